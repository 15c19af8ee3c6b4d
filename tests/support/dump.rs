//! A text dump of a parsed post that shows every field the library exposes,
//! one line per device, overview, target, plate, face or alarm. A field that
//! is `None` is left out, so a field the parser drops *or* invents changes
//! the dump. Strings are quoted with `{:?}` so stray white space shows.
//!
//! ```text
//! event lpr "VEHICE" "License Plate Detection" v1 "1.7" time=1767612345678901
//! device name="Harbour Gate LPR" mac="3c:ef:8c:21:0a:4e" serial="IPC7Q2K8M1R" channel=1
//! source 32x18 declared=220
//! target id=311 kind=Car rect=3100,4200,6900,9600 crop=16x8
//! plate number="HX72 LMP" group="blackList" ... crop=16x8
//! ```
//!
//! Sizes are the declared `width`x`height` (`?` when absent or 0); `declared`
//! is the declared base64 length; `rect` is `x1,y1,x2,y2`.

use std::fmt::{Debug, Write as _};

use viewtron::{Device, Event, Image, Post, Rect, Region};

/// Appends ` key=value` when the value is present.
fn field(out: &mut String, key: &str, value: Option<impl Debug>) {
    if let Some(v) = value {
        write!(out, " {key}={v:?}").unwrap();
    }
}

/// Appends ` key=value` with `value` printed by `show`, when present.
fn field_with<T>(out: &mut String, key: &str, value: Option<T>, show: impl Fn(T) -> String) {
    if let Some(v) = value {
        write!(out, " {key}={}", show(v)).unwrap();
    }
}

fn rect(r: Rect) -> String {
    format!("{},{},{},{}", r.x1, r.y1, r.x2, r.y2)
}

fn region(r: &Region) -> String {
    match r {
        Region::Polygon(points) => {
            let p: Vec<String> = points
                .iter()
                .map(|p| format!("({},{})", p.x, p.y))
                .collect();
            format!("zone{}", p.concat())
        }
        Region::Line { start, end } => {
            format!("line({},{})-({},{})", start.x, start.y, end.x, end.y)
        }
        // A shape added after these goldens: shown, so the golden diff names it.
        other => format!("{other:?}"),
    }
}

/// Declared size of an image, `?` for an unknown dimension.
fn size(i: &Image) -> String {
    let d = |v: Option<u32>| v.map_or("?".to_owned(), |v| v.to_string());
    format!("{}x{}", d(i.width()), d(i.height()))
}

fn device(out: &mut String, d: &Device) {
    out.push_str("device");
    field(out, "name", d.name.as_deref());
    field(out, "ip", d.ip.as_deref());
    field(out, "mac", d.mac.as_deref());
    field(out, "serial", d.serial.as_deref());
    field(out, "channel", d.channel);
    out.push('\n');
}

fn dump_event(out: &mut String, e: &Event) {
    let (category, code, desc) = (e.category(), e.alarm_type(), e.description());
    let (format, version) = (e.format(), e.config_version());
    write!(
        out,
        "event {category} {code:?} {desc:?} {format} {version:?}"
    )
    .unwrap();
    field(out, "time", e.time_us());
    out.push('\n');
    device(out, e.device());
    if let Some(i) = e.source_image() {
        write!(out, "source {}", size(i)).unwrap();
        field(out, "declared", i.declared_len());
        out.push('\n');
    }
    for t in e.targets() {
        out.push_str("target");
        field(out, "id", t.id);
        field(out, "event", t.event_id);
        field(out, "status", t.status.as_ref().map(|s| s.as_str()));
        field(out, "kind", t.kind.as_ref());
        field_with(out, "rect", t.rect, rect);
        field_with(out, "region", t.region.as_ref(), region);
        field_with(out, "point", t.point, |p| format!("{},{}", p.x, p.y));
        field(out, "velocity", t.velocity.as_deref());
        field(out, "direction", t.direction.as_deref());
        field_with(out, "crop", t.image.as_ref(), size);
        out.push('\n');
    }
    for p in e.plates() {
        out.push_str("plate");
        field(out, "number", p.number.as_deref());
        field(out, "group", p.group.as_deref());
        field(out, "color", p.color.as_deref());
        field(out, "direction", p.direction.as_ref());
        field_with(out, "confidence", p.confidence, |c| c.to_string());
        field(out, "owner", p.owner.as_deref());
        field_with(out, "vehicle", p.vehicle.as_ref(), |v| {
            let mut s = String::new();
            field(&mut s, "kind", v.kind.as_deref());
            field(&mut s, "color", v.color.as_deref());
            field(&mut s, "brand", v.brand.as_deref());
            field(&mut s, "model", v.model.as_deref());
            format!("[{}]", s.trim_start())
        });
        field_with(out, "crop", p.image.as_ref(), size);
        out.push('\n');
    }
    for f in e.faces() {
        out.push_str("face");
        field(out, "id", f.id);
        field_with(out, "rect", f.rect, rect);
        field(out, "age", f.age.as_deref());
        field(out, "sex", f.sex.as_deref());
        field(out, "glasses", f.glasses.as_deref());
        field(out, "mask", f.mask.as_deref());
        field_with(out, "crop", f.image.as_ref(), size);
        out.push('\n');
    }
}

pub fn dump(post: &Post) -> String {
    let mut out = String::new();
    match post {
        Post::Event(e) => dump_event(&mut out, e),
        Post::Keepalive(k) => {
            out.push_str("keepalive");
            field_with(&mut out, "format", k.format, |f| f.to_string());
            out.push('\n');
            device(&mut out, &k.device);
        }
        Post::AlarmStatus(s) => {
            write!(out, "alarm_status {}", s.format).unwrap();
            field(&mut out, "time", s.time_us);
            field(&mut out, "time_text", s.time_text.as_deref());
            out.push('\n');
            device(&mut out, &s.device);
            for a in &s.alarms {
                write!(out, "alarm {}", a.name).unwrap();
                field(&mut out, "id", a.id.as_deref());
                writeln!(out, " active={}", a.active).unwrap();
            }
        }
        Post::Unrecognized(u) => {
            write!(out, "unrecognized {}", u.reason).unwrap();
            field(&mut out, "smart_type", u.smart_type.as_deref());
            field(&mut out, "description", u.description);
            out.push('\n');
        }
        // A kind of post added after these goldens: shown, so the diff names it.
        other => writeln!(out, "{other:?}").unwrap(),
    }
    out
}
