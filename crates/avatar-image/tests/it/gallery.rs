//! The gallery page (`cargo xtask gallery`), written at one size and audited by axe-core in
//! headless Chromium, as the project's other pages are: a page for looking at pictures must
//! say what each one is.

#[path = "../../examples/gallery.rs"]
#[allow(dead_code)]
mod example;

#[test]
fn the_gallery_page_passes_the_accessibility_audit() {
    let dir = tempfile::tempdir().unwrap();
    let written = example::write_gallery(dir.path(), &[32]).unwrap();
    assert!(written > 100, "{written} pictures");
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    test_support::browser::assert_accessible(
        "the_gallery_page_passes_the_accessibility_audit",
        &html,
    );
}
