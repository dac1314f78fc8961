//! static-files: serves `static/`, embedded at build time (see build.rs).
//! The handler lives in `echopilot_core::static_files`.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::static_files::use_assets(ASSETS);
    echopilot_core::adapters::spin::serve_http(&echopilot_core::static_files::APP, req, out).await
}

#[cfg(test)]
mod tests {
    use super::ASSETS;
    use echopilot_core::static_files::{etag, pack};

    /// The embedded table is what the core library packs from `static/`:
    /// the same files, bytes and ETags, sorted for the lookup.
    #[test]
    fn the_embedded_assets_are_static_as_packed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static");
        let packed = pack::pack_dir(&root).unwrap();
        assert_eq!(ASSETS.len(), packed.len());
        for (a, p) in ASSETS.iter().zip(&packed) {
            assert_eq!((a.path, a.etag), (p.path.as_str(), p.etag.as_str()));
            assert_eq!(a.body, p.body.as_slice());
            assert_eq!(a.gzip, p.gzip.as_deref());
            let raw = std::fs::read(root.join(a.path)).unwrap();
            assert_eq!(
                (a.body, a.etag),
                (raw.as_slice(), etag(&raw).as_str()),
                "{}",
                a.path
            );
        }
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path));
    }
}
