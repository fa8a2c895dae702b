//! Display of times: the API sends UTC, people read both UTC and their own time zone. The own
//! zone is the one in the user's preferences, else the browser's, and every time shown in it
//! carries its offset.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::Session;

/// Formats a time in UTC, such as `2023-07-10 12:20:00 UTC`.
pub fn format_utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Time zone set in the signed-in user's preferences, tracking changes; `None` when the user
/// set none, which means the browser's zone.
pub fn preferred_zone() -> Option<String> {
    use_context::<Session>().and_then(|session| session.time_zone.get())
}

/// Name of the zone that `format_local` uses: the preferred zone, else the browser's.
pub fn shown_zone_name() -> Option<String> {
    preferred_zone().or_else(local_zone_name)
}

/// Formats a time in the user's zone with its offset, such as `2023-07-10 14:20:00 +02:00`:
/// the preferred zone when the browser supports it, else the browser's zone.
///
/// The offset is the one in force at that instant, so a time in summer shows summer time even
/// when read in winter. Called inside a reactive closure, the text follows a change of the
/// preference.
pub fn format_local(time: DateTime<Utc>) -> String {
    preferred_zone()
        .and_then(|zone| format_in_zone(time, &zone))
        .unwrap_or_else(|| format_browser_local(time))
}

/// Formats a time in the browser's zone with its offset.
fn format_browser_local(time: DateTime<Utc>) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(time.timestamp_millis() as f64));
    // `getTimezoneOffset` is UTC minus local time in minutes, so east of Greenwich is negative.
    let offset_seconds = (-date.get_timezone_offset() * 60.0).round() as i32;
    match FixedOffset::east_opt(offset_seconds) {
        Some(offset) => time
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        None => format_utc(time),
    }
}

/// Builds an `Intl.DateTimeFormat` for `zone`, or `None` when the browser does not know the
/// zone. The constructor is called through `Reflect` because it throws for an unknown zone.
pub fn zone_format(zone: &str) -> Option<js_sys::Intl::DateTimeFormat> {
    let intl = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("Intl")).ok()?;
    let constructor = js_sys::Reflect::get(&intl, &JsValue::from_str("DateTimeFormat")).ok()?;
    let options = js_sys::Object::new();
    let settings = [
        ("timeZone", zone),
        ("year", "numeric"),
        ("month", "2-digit"),
        ("day", "2-digit"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("second", "2-digit"),
        ("hourCycle", "h23"),
        ("timeZoneName", "longOffset"),
    ];
    for (key, value) in settings {
        js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value)).ok()?;
    }
    let arguments = js_sys::Array::of2(&JsValue::from_str("en-US"), &options);
    let constructor: &js_sys::Function = constructor.unchecked_ref();
    let format = js_sys::Reflect::construct(constructor, &arguments).ok()?;
    Some(format.unchecked_into())
}

/// Formats a time in an IANA zone with its offset, such as `2024-03-01 15:30:00 +05:30`;
/// `None` when the browser does not know the zone.
fn format_in_zone(time: DateTime<Utc>, zone: &str) -> Option<String> {
    let format = zone_format(zone)?;
    let date = js_sys::Date::new(&JsValue::from_f64(time.timestamp_millis() as f64));
    let parts = format.format_to_parts(&date);
    let mut fields = std::collections::HashMap::new();
    for part in parts.iter() {
        let kind = js_sys::Reflect::get(&part, &JsValue::from_str("type"))
            .ok()?
            .as_string()?;
        let value = js_sys::Reflect::get(&part, &JsValue::from_str("value"))
            .ok()?
            .as_string()?;
        fields.insert(kind, value);
    }
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    // `longOffset` gives `GMT+05:30`, or plain `GMT` for a zero offset.
    let offset = match field("timeZoneName").trim_start_matches("GMT") {
        "" => "+00:00".to_string(),
        offset => offset.replace('\u{2212}', "-"),
    };
    Some(format!(
        "{}-{}-{} {}:{}:{} {offset}",
        field("year"),
        field("month"),
        field("day"),
        field("hour"),
        field("minute"),
        field("second")
    ))
}

/// Name of the browser's time zone, such as `Europe/Berlin`, when the browser reports one.
fn local_zone_name() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    let options = format.resolved_options();
    js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()
        .and_then(|zone| zone.as_string())
        .filter(|zone| !zone.is_empty())
}

/// A `<time>` element showing the time in the user's zone, with UTC in its tooltip.
#[component]
pub fn LocalTime(time: DateTime<Utc>) -> impl IntoView {
    view! {
        <time datetime=time.to_rfc3339() title=format_utc(time)>
            {move || format_local(time)}
        </time>
    }
}
