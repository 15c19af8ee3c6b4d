//! The final report line, as text or as JSON.

use std::time::Duration;

use crate::args::Config;
use crate::tally::Tally;

/// Prints the report; returns the number of errors.
pub(crate) fn report(cfg: &Config, tallies: Vec<Tally>, elapsed: Duration) -> u64 {
    let mut all = Tally::default();
    all.latency
        .reserve_exact(tallies.iter().map(|t| t.latency.len()).sum());
    tallies.into_iter().for_each(|t| all.add(t));
    all.latency.sort_unstable();
    let Tally {
        posts,
        ok,
        errors,
        keepalives,
        bytes,
        latency,
        mut first,
    } = all;
    first.sort_unstable();
    let answered = first.len();
    let first_ms = |p: f64, none: &str| {
        let rank = ((p * first.len() as f64).ceil() as usize).max(1);
        let micros = first.get(rank.min(first.len()).wrapping_sub(1));
        micros.map_or(none.to_string(), |&us| {
            format!("{:.3}", f64::from(us) / 1000.0)
        })
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let (rate, bytes_per_s) = (posts as f64 / secs, bytes as f64 / secs);
    // Nearest-rank percentile in milliseconds, or `none` without samples.
    let ms = |p: f64, none: &str, unit: &str| {
        let rank = ((p * latency.len() as f64).ceil() as usize).max(1);
        let micros = latency.get(rank.min(latency.len()).wrapping_sub(1));
        micros.map_or(none.to_string(), |&us| {
            format!("{:.3}{unit}", f64::from(us) / 1000.0)
        })
    };
    if cfg.json {
        let ms = |p| ms(p, "null", "");
        println!(
            "{{\"posts\":{posts},\"ok\":{ok},\"errors\":{errors},\"keepalives\":{keepalives},\
             \"bytes\":{bytes},\"elapsed_s\":{secs:.3},\"rate\":{rate:.1},\
             \"bytes_per_s\":{bytes_per_s:.0},\"p50_ms\":{},\"p90_ms\":{},\"p99_ms\":{},\
             \"max_ms\":{},\"connections\":{},\"answered_connections\":{answered},\
             \"first_p99_ms\":{},\"first_max_ms\":{}}}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0),
            cfg.connections,
            first_ms(0.99, "null"),
            first_ms(1.0, "null"),
        );
    } else {
        let ms = |p| ms(p, "-", "ms");
        let ka = if keepalives > 0 {
            format!(" keepalives={keepalives}")
        } else {
            String::new()
        };
        println!(
            "posts={posts} ok={ok} errors={errors}{ka} elapsed={secs:.3}s rate={rate:.1}/s \
             tx={:.2}MB/s p50={} p90={} p99={} max={} answered_connections={answered}/{} \
             first_max={}ms",
            bytes_per_s / 1e6,
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0),
            cfg.connections,
            first_ms(1.0, "-"),
        );
    }
    errors
}
