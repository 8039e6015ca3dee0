//! Integration tests of `avatar-image`: the drawn defaults, the render pipeline on real files (colour profiles and EXIF orientation too), the rendition files and those made ahead, the XMPP rendition.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod color;
mod crop;
mod defaults;
mod gallery;
mod master;
mod orientation;
mod render;
mod render_ahead;
mod rendition_files;
mod rung;
mod xmpp;
