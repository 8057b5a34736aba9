//! [`Image`]: one image as the transforms see it (torchvision's float image tensor), and
//! [`ImageShape`]: what a transform list knows of the shape before any image is read.

use std::fmt;

/// One image: `channels × height × width` f32 values, channel-planar and row-major (a
/// torchvision image tensor `[C, H, W]`). Decoded images enter the transforms as
/// torchvision's `ToImage()` + `ToDtype(torch.float32, scale=True)` give them: values in
/// `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels · height · width` values, `data[(c·height + y)·width + x]`.
    pub data: Vec<f32>,
}

impl Image {
    /// An image of `channels × height × width` zeros.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Image {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
        }
    }

    /// An image holding `data` (`[C, H, W]` row-major).
    ///
    /// # Panics
    /// If `data.len() != channels · height · width`.
    pub fn from_vec(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            channels * height * width,
            "Image::from_vec: {} values for [{channels}, {height}, {width}]",
            data.len()
        );
        Image {
            channels,
            height,
            width,
            data,
        }
    }

    /// 8-bit pixels (`[C, H, W]` planar) scaled to `[0, 1]` (`x / 255`, torchvision's
    /// `ToDtype(torch.float32, scale=True)`).
    ///
    /// # Panics
    /// If `pixels.len() != channels · height · width`.
    pub fn from_u8(channels: usize, height: usize, width: usize, pixels: &[u8]) -> Self {
        let data = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        Image::from_vec(channels, height, width, data)
    }

    /// Values per channel plane (`height · width`).
    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// The values of channel `c`.
    pub fn channel(&self, c: usize) -> &[f32] {
        let p = self.plane();
        &self.data[c * p..(c + 1) * p]
    }

    /// The shape `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

/// What a transform list knows about its images' shape before reading them: the channels,
/// and the height and width when every image has the same (`None`: they differ from image
/// to image, so a `Resize` to both sides or a crop must come before batching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    /// Channels.
    pub channels: usize,
    /// Rows, if the same for every image.
    pub height: Option<usize>,
    /// Columns, if the same for every image.
    pub width: Option<usize>,
}

impl ImageShape {
    /// A fixed shape `[channels, height, width]`.
    pub fn fixed(channels: usize, height: usize, width: usize) -> Self {
        ImageShape {
            channels,
            height: Some(height),
            width: Some(width),
        }
    }

    /// `[C, H, W]` when height and width are known.
    pub fn dims(&self) -> Option<[usize; 3]> {
        Some([self.channels, self.height?, self.width?])
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |v: Option<usize>| v.map_or("?".to_string(), |v| v.to_string());
        write!(
            f,
            "[{}, {}, {}]",
            self.channels,
            d(self.height),
            d(self.width)
        )
    }
}
