//! `robohash`: robots (`set1`), monsters (`set2`) and robot heads (`set3`), built from
//! hash-chosen parts. Each part is drawn by its own function, back to front.

use avatar_proto::{AvatarHash, RobohashSet};
use image::RgbaImage;

use super::Generator;
use super::colour::Colour;

mod head;
mod monster;
mod robot;

/// One robohash set.
#[derive(Debug, Clone, Copy)]
pub struct Robohash(pub RobohashSet);

/// Eyes, visors and mouths in every set.
const INK: Colour = [35, 38, 48, 255];

impl Generator for Robohash {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        match self.0 {
            RobohashSet::Set1 => robot::draw(hash, size),
            RobohashSet::Set2 => monster::draw(hash, size),
            RobohashSet::Set3 => head::draw(hash, size),
        }
    }
}
