//! Boxes in frame pixels.

use serde::{Deserialize, Serialize};

/// Axis-aligned box `[x1, y1, x2, y2]` in pixels of the full source frame (x2 > x1, y2 > y1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(from = "[f32; 4]", into = "[f32; 4]")]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    /// Intersection over union; 0 for disjoint or empty boxes.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Grows the box by `fraction` of its width/height on each side.
    pub fn expand(&self, fraction: f32) -> BBox {
        let dx = self.width() * fraction;
        let dy = self.height() * fraction;
        BBox::new(self.x1 - dx, self.y1 - dy, self.x2 + dx, self.y2 + dy)
    }

    /// Clamps to `[0, width] x [0, height]`.
    pub fn clamp(&self, width: u32, height: u32) -> BBox {
        let (w, h) = (width as f32, height as f32);
        BBox::new(
            self.x1.clamp(0.0, w),
            self.y1.clamp(0.0, h),
            self.x2.clamp(0.0, w),
            self.y2.clamp(0.0, h),
        )
    }

    /// Integer pixel rectangle `(x, y, w, h)` covering the box inside a `width x height` frame;
    /// `None` when nothing of it is inside.
    pub fn to_pixel_rect(&self, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
        let c = self.clamp(width, height);
        let x1 = c.x1.floor() as u32;
        let y1 = c.y1.floor() as u32;
        let x2 = (c.x2.ceil() as u32).min(width);
        let y2 = (c.y2.ceil() as u32).min(height);
        (x2 > x1 && y2 > y1).then(|| (x1, y1, x2 - x1, y2 - y1))
    }
}

impl From<[f32; 4]> for BBox {
    fn from(a: [f32; 4]) -> BBox {
        BBox::new(a[0], a[1], a[2], a[3])
    }
}

impl From<BBox> for [f32; 4] {
    fn from(b: BBox) -> [f32; 4] {
        [b.x1, b.y1, b.x2, b.y2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlap() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        let b = BBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
    }

    #[test]
    fn pixel_rect_is_clamped() {
        let b = BBox::new(-5.0, 2.2, 12.5, 8.0);
        assert_eq!(b.to_pixel_rect(10, 10), Some((0, 2, 10, 6)));
        assert_eq!(
            BBox::new(20.0, 20.0, 30.0, 30.0).to_pixel_rect(10, 10),
            None
        );
    }
}
