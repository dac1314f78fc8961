//! Embeds what the pages of `static/` load (`/css`, `/js`, `/i18n`) in the
//! component (`pack::embed`: strong ETags, gzip for text, larger text in its
//! gzip form only). Re-runs when anything under `static/` changes.

// The whole packing module, of which this script uses its own part.
#[allow(dead_code)]
#[path = "../core/src/static_files/pack.rs"]
mod pack;

fn main() {
    pack::embed(pack::Part::Assets);
}
