//! The page's files, embedded in the binary: the board works with no network and serves no
//! file from disk but the run and study data it reads itself.

/// `(name, bytes, content type)` of every asset.
const ASSETS: [(&str, &[u8], &str); 6] = [
    (
        "index.html",
        include_bytes!("../assets/index.html"),
        "text/html; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../assets/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "app.css",
        include_bytes!("../assets/app.css"),
        "text/css; charset=utf-8",
    ),
    // uPlot 1.6.32 (MIT, Leon Sorokin), from the npm registry's `uplot` package.
    (
        "uPlot.iife.min.js",
        include_bytes!("../assets/uPlot.iife.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "uPlot.min.css",
        include_bytes!("../assets/uPlot.min.css"),
        "text/css; charset=utf-8",
    ),
    (
        "uPlot-LICENSE.txt",
        include_bytes!("../assets/uPlot-LICENSE"),
        "text/plain; charset=utf-8",
    ),
];

/// The asset called `name` and its content type.
pub fn get(name: &str) -> Option<(&'static [u8], &'static str)> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, bytes, mime)| (*bytes, *mime))
}

/// The names of every asset.
pub fn names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(n, _, _)| *n)
}
