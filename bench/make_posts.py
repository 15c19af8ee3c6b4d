#!/usr/bin/env python3
"""Writes the two camera posts that bench/run.sh replays, into DIR.

    python3 bench/make_posts.py DIR

- traject.xml (~1.9 KB): an IP camera (v1 layout, config version 1.7) smart
  tracking post, three tracked targets; the small, frequent post (cameras send
  6-12 a second per tracked target).
- image.xml (~520 KB): an NVR (v2 layout) regionIntrusion event with
  eventInfo + targetListInfo, a ~450 KB base64 overview in sourceDataInfo and
  a ~60 KB base64 target crop; the large post.

Next to each, NAME.skeleton.xml: the same post as viewtron's parser hands it
to roxmltree (the rules of src/parse/skeleton.rs: no plain XML declaration, no
default namespace, no `type` annotations, no indentation, image payloads
lifted out), for the ceiling's `--parse` (bench/run.sh's `floor` server: what
any server on this stack pays to have roxmltree read the post).

The images are valid base64 of deterministic pseudo-random bytes framed like a
JPEG (FF D8 FF E0 ... FF D9); no decoder would show a picture, which does not
matter to a server that only carries them. The output is the same, byte for
byte, on every run and every machine. Prints each file's name and size.
"""

import base64
import hashlib
import os
import re
import sys

OVERVIEW_B64 = 460_000  # base64 characters (multiples of 4: no padding); ~449 KiB
CROP_B64 = 60_000  # ~59 KiB


def fake_jpeg(seed: str, b64_len: int) -> str:
    """Base64 text of exactly b64_len characters: a JPEG-framed byte string."""
    raw_len = b64_len // 4 * 3
    head = bytes.fromhex("FFD8FFE000104A46494600010100000100010000")  # SOI + APP0 JFIF
    tail = bytes.fromhex("FFD9")  # EOI
    filler = hashlib.shake_256(seed.encode()).digest(raw_len - len(head) - len(tail))
    text = base64.b64encode(head + filler + tail).decode("ascii")
    assert len(text) == b64_len
    return text


def traject() -> str:
    items = []
    targets = [
        (1001, "person", 2450, 6120, 14, 90),
        (1002, "car", 7010, 5530, 0, 270),
        (1003, "motor", 9400, 8800, 31, 180),
    ]
    for target_id, kind, x, y, velocity, direction in targets:
        items.append(
            f"""        <item>
            <targetId type="uint32">{target_id}</targetId>
            <point><x type="uint32">{x}</x><y type="uint32">{y}</y></point>
            <rect><x1 type="uint32">{x - 350}</x1><y1 type="uint32">{y - 800}</y1><x2 type="uint32">{x + 350}</x2><y2 type="uint32">{y + 800}</y2></rect>
            <velocity type="uint32">{velocity}</velocity>
            <direction type="uint32">{direction}</direction>
            <targetType type="string">{kind}</targetType>
            <trajectlength type="list" count="0"/>
        </item>
"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
    <currentTime type="tint64">1767810000041000</currentTime>
    <mac type="string"><![CDATA[3c:ef:8c:10:20:30]]></mac>
    <sn type="string"><![CDATA[IPCBENCH0001]]></sn>
    <deviceName type="string"><![CDATA[Bench Camera 1]]></deviceName>
    <traject type="list" count="{len(targets)}">
{"".join(items)}    </traject>
</config>
"""


def image() -> str:
    overview = fake_jpeg("viewtron-bench-overview", OVERVIEW_B64)
    crop = fake_jpeg("viewtron-bench-crop", CROP_B64)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
    <messageType>alarmData</messageType>
    <deviceInfo>
        <deviceName><![CDATA[Bench NVR Yard]]></deviceName>
        <ip>127.0.0.1</ip>
        <mac>3C:EF:8C:40:50:60</mac>
        <channelId>2</channelId>
    </deviceInfo>
    <smartType>regionIntrusion</smartType>
    <currentTime>1767901234500000</currentTime>
    <eventInfo>
        <item>
            <eventId>901</eventId>
            <targetId>801</targetId>
            <boundary>area</boundary>
            <pointGroup>
                <item><x>1200</x><y>2500</y></item>
                <item><x>5600</x><y>2300</y></item>
                <item><x>5800</x><y>9400</y></item>
                <item><x>900</x><y>9100</y></item>
            </pointGroup>
            <rect>
                <x1>2400</x1><y1>3900</y1>
                <x2>3100</x2><y2>8700</y2>
            </rect>
        </item>
    </eventInfo>
    <sourceDataInfo>
        <dataType>0</dataType>
        <width>1920</width>
        <height>1080</height>
        <sourceBase64Length>{len(overview)}</sourceBase64Length>
        <sourceBase64Data>{overview}</sourceBase64Data>
    </sourceDataInfo>
    <targetListInfo>
        <item>
            <targetId>801</targetId>
            <targetType>person</targetType>
            <targetImageData>
                <dataType>0</dataType>
                <width>264</width>
                <height>528</height>
                <targetBase64Length>{len(crop)}</targetBase64Length>
                <targetBase64Data>{crop}</targetBase64Data>
            </targetImageData>
        </item>
    </targetListInfo>
</config>
"""


def skeleton(text: str) -> str:
    """The post as viewtron's skeleton pass leaves it for roxmltree."""
    text = text.removeprefix('<?xml version="1.0" encoding="UTF-8"?>')
    text = re.sub(r' xmlns="[^"]*"', "", text)
    text = re.sub(r' type="[^"]*"', "", text)
    text = re.sub(r"(Base64Data>)[^<]+(</)", r"\1\2", text)
    return re.sub(r">\s*\n\s*<", "><", text).lstrip()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: make_posts.py DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    if out in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if out.startswith("-"):
        print(f"make_posts.py: unknown option '{out}'; usage: make_posts.py DIR", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    for name, text in (("traject", traject()), ("image", image())):
        for file, content in ((f"{name}.xml", text), (f"{name}.skeleton.xml", skeleton(text))):
            path = os.path.join(out, file)
            with open(path, "w", encoding="ascii", newline="\n") as f:
                f.write(content)
            print(f"{file} {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
