//! Writing images as PNG files: one image ([`write_png`]) or a whole labelled set as an
//! ImageFolder tree ([`export_image_folder`]), e.g. the bundled MNIST digits.

use std::path::Path;

use super::dataset::ImageStore;
use crate::error::DataError;

/// Writes `[C, H, W]` planar 8-bit `pixels` (C = 1 or 3) as a PNG file.
///
/// # Errors
/// [`DataError::Io`] naming the file; [`DataError::Config`] for another channel count.
pub fn write_png(
    path: &Path,
    channels: usize,
    height: usize,
    width: usize,
    pixels: &[u8],
) -> Result<(), DataError> {
    let plane = height * width;
    let (buf, color) = match channels {
        1 => (pixels.to_vec(), image::ExtendedColorType::L8),
        3 => {
            let mut hwc = vec![0u8; 3 * plane];
            for i in 0..plane {
                for c in 0..3 {
                    hwc[3 * i + c] = pixels[c * plane + i];
                }
            }
            (hwc, image::ExtendedColorType::Rgb8)
        }
        c => {
            return Err(DataError::config(
                "channels",
                format!("PNG export takes 1 or 3 channels, got {c}"),
            ))
        }
    };
    image::save_buffer_with_format(
        path,
        &buf,
        width as u32,
        height as u32,
        color,
        image::ImageFormat::Png,
    )
    .map_err(|e| DataError::io(path, e))
}

/// Writes every image of `store` as `root/<class name>/<index>.png` (an ImageFolder tree);
/// `labels[i]` indexes `classes`. Returns the number of files written.
///
/// # Errors
/// A folder or file that cannot be written, or an image that cannot be read.
pub fn export_image_folder(
    root: &Path,
    store: &dyn ImageStore,
    labels: &[usize],
    classes: &[String],
) -> Result<usize, DataError> {
    for c in classes {
        let dir = root.join(c);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    }
    let digits = store.len().max(1).to_string().len();
    for (i, &label) in labels.iter().enumerate().take(store.len()) {
        let img = store.load(i)?;
        let px: Vec<u8> = img
            .data
            .iter()
            .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
            .collect();
        let path = root.join(&classes[label]).join(format!("{i:0digits$}.png"));
        write_png(&path, img.channels, img.height, img.width, &px)?;
    }
    Ok(labels.len().min(store.len()))
}
