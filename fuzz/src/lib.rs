//! Helpers shared by the fuzz targets.

use std::hint::black_box;

use viewtron::{Device, Event, Image, Post, Region, Target};

/// Every image of an event: the overview, then each target, face and plate crop.
pub fn images(event: &Event) -> impl Iterator<Item = &Image> {
    let targets = event.targets().iter().filter_map(|t| t.image.as_ref());
    let faces = event.faces().iter().filter_map(|f| f.image.as_ref());
    let plates = event.plates().iter().filter_map(|p| p.image.as_ref());
    event
        .source_image()
        .into_iter()
        .chain(targets)
        .chain(faces)
        .chain(plates)
}

/// Calls every accessor of `post` (parsed from `input`) and checks the few
/// relations between them that must hold for any input.
pub fn touch(post: &Post, input: &[u8]) {
    black_box(post.kind());
    black_box(format!("{post:?}"));
    let json = serde_json::to_string(post).expect("a post always serialises");
    assert!(
        json.starts_with(&format!("{{\"kind\":\"{}\"", post.kind())),
        "{json}"
    );
    if let Some(device) = post.device() {
        touch_device(device);
    }
    match post {
        Post::Event(event) => touch_event(event, input),
        Post::Keepalive(k) => {
            touch_device(&k.device);
            black_box(k.format.map(|f| f.as_str()));
        }
        Post::AlarmStatus(status) => {
            for alarm in &status.alarms {
                black_box((&alarm.name, &alarm.id, alarm.active));
            }
            black_box((status.format.as_str(), status.time_us, &status.time_text));
        }
        Post::Unrecognized(u) => {
            assert_eq!(u.body().as_bytes(), input);
            black_box((u.reason.as_str(), u.reason.to_string()));
            black_box((&u.smart_type, u.description));
        }
        other => black_box(format!("{other:?}")).clear(),
    }
}

fn touch_event(event: &Event, input: &[u8]) {
    assert_eq!(event.body().as_bytes(), input);
    black_box((event.category().as_str(), event.category().to_string()));
    black_box((event.alarm_type(), event.description()));
    black_box((event.format().as_str(), event.config_version()));
    touch_device(event.device());
    assert_eq!(event.device_name(), event.device().name.as_deref());
    assert_eq!(event.channel(), event.device().channel);
    black_box((event.time_us(), event.time()));
    for target in event.targets() {
        touch_target(target);
    }
    assert_eq!(event.plate(), event.plates().first());
    assert_eq!(
        event.plate_number(),
        event.plate().and_then(|p| p.number.as_deref())
    );
    black_box((event.plate_group(), event.vehicle()));
    for plate in event.plates() {
        black_box((&plate.number, &plate.group, &plate.color, &plate.owner));
        black_box((
            plate.direction.as_ref().map(|d| d.as_str()),
            plate.confidence,
        ));
        black_box(&plate.vehicle);
        touch_image(plate.image.as_ref());
    }
    for face in event.faces() {
        black_box((face.id, face.rect.map(|r| (r.width(), r.height()))));
        black_box((&face.age, &face.sex, &face.glasses, &face.mask));
        touch_image(face.image.as_ref());
    }
    touch_image(event.source_image());
    touch_image(event.target_image());
    // The convenience decoders are `bytes()` of the same images.
    assert_eq!(
        event.source_image_bytes(),
        event.source_image().map(Image::bytes)
    );
    assert_eq!(
        event.target_image_bytes(),
        event.target_image().map(Image::bytes)
    );
    if let Some(target) = event.target_image() {
        assert!(images(event).any(|i| std::ptr::eq(i, target)));
    }
}

fn touch_target(target: &Target) {
    black_box((target.id, target.event_id));
    if let Some(status) = &target.status {
        black_box((status.as_str(), status.to_string()));
    }
    black_box(target.kind.as_ref().map(|k| (k.as_str(), k.to_string())));
    black_box(target.rect.map(|r| (r.width(), r.height())));
    match &target.region {
        Some(Region::Polygon(points)) => {
            for p in points {
                black_box(p.scale(1920, 1080));
            }
        }
        Some(Region::Line { start, end }) => {
            black_box((start.scale(u32::MAX, u32::MAX), end.scale(0, 0)));
        }
        Some(other) => black_box(format!("{other:?}")).clear(),
        None => {}
    }
    black_box(target.point.map(|p| p.scale(u32::MAX, 1)));
    black_box((&target.velocity, &target.direction));
    touch_image(target.image.as_ref());
}

fn touch_device(device: &Device) {
    black_box((&device.name, &device.ip, &device.mac, &device.serial));
    black_box(device.channel);
}

fn touch_image(image: Option<&Image>) {
    if let Some(image) = image {
        black_box((image.base64(), image.width(), image.height()));
        black_box((image.declared_len(), format!("{image:?}")));
    }
}
