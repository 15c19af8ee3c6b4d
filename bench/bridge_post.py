#!/usr/bin/env python3
"""Writes the licence-plate post that bench/bridge.sh replays, to FILE.

    python3 bench/bridge_post.py FILE

An IP camera (v1 layout, VEHICE, as the vendor's LPR-IP4 sends) plate event
with a ~200 KB base64 overview in listInfo item 0 and a ~8 KB base64 plate
crop in item 1, plate on the camera's allow list. The images come from
make_posts.fake_jpeg: JPEG-framed deterministic bytes, the same on every run.
Prints the file's name and size.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_posts import fake_jpeg  # noqa: E402

OVERVIEW_B64 = 200_000
CROP_B64 = 8_000


def lpr() -> str:
    overview = fake_jpeg("viewtron-bench-lpr-overview", OVERVIEW_B64)
    crop = fake_jpeg("viewtron-bench-lpr-plate", CROP_B64)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
    <smartType type="openAlramObj">VEHICE</smartType>
    <subscribeRelation type="subscribeOption">FEATURE_RESULT</subscribeRelation>
    <currentTime type="tint64">1767810000041000</currentTime>
    <mac type="string"><![CDATA[3c:ef:8c:10:20:31]]></mac>
    <sn type="string"><![CDATA[IPCBENCHLPR1]]></sn>
    <deviceName type="string"><![CDATA[Bench Gate LPR]]></deviceName>
    <listInfo type="list" count="2">
        <item>
            <targetImageData>
                <dataType type="uint32">0</dataType>
                <targetType type="uint32">2</targetType>
                <Width type="tuint32">1920</Width>
                <Height type="tuint32">1080</Height>
                <targetBase64Length type="uint32">{len(overview)}</targetBase64Length>
                <targetBase64Data type="string"><![CDATA[{overview}]]></targetBase64Data>
            </targetImageData>
        </item>
        <item>
            <plateNumber type="string"><![CDATA[BN24 TXR]]></plateNumber>
            <vehicleListType type="string">whiteList</vehicleListType>
            <vehicleDirect type="string">approach</vehicleDirect>
            <PlateConfidence count="9650"/>
            <targetImageData>
                <dataType type="uint32">0</dataType>
                <targetType type="uint32">4</targetType>
                <Width type="tuint32">240</Width>
                <Height type="tuint32">80</Height>
                <targetBase64Length type="uint32">{len(crop)}</targetBase64Length>
                <targetBase64Data type="string"><![CDATA[{crop}]]></targetBase64Data>
            </targetImageData>
        </item>
    </listInfo>
</config>
"""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    text = lpr()
    with open(sys.argv[1], "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    print(f"{sys.argv[1]} {len(text)} bytes")


if __name__ == "__main__":
    main()
