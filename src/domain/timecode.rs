//! A capture time burned into a picture as a row of black and white
//! blocks, so that a test or a bench can read, from the pixels a client
//! shows, when the camera took them: the demo clock camera writes it, the
//! playback test and bench read it back.
//!
//! The strip: [`BLOCKS`] blocks along the bottom of the picture, each
//! `width / BLOCKS` wide and as tall, one block above the bottom edge.
//! Two marker blocks (white, black), then the Unix time in milliseconds,
//! [`BITS`] bits, most significant first, then two marker blocks (black,
//! white). Big blocks in pure black and white survive H.264 at any
//! bitrate the demo uses, and scaling the picture down.

/// Blocks across the strip (a block is `width / BLOCKS` pixels).
pub const BLOCKS: u32 = 64;
/// Bits of the time (milliseconds since 1970 fit in 44 bits until 2527).
pub const BITS: u32 = 44;
const START: [bool; 2] = [true, false];
const END: [bool; 2] = [false, true];

/// The strip's blocks for `unix_ms`, left to right.
pub fn blocks(unix_ms: u64) -> Vec<bool> {
    let mut out = Vec::with_capacity(BITS as usize + 4);
    out.extend(START);
    out.extend((0..BITS).rev().map(|b| (unix_ms >> b) & 1 == 1));
    out.extend(END);
    out
}

/// The rows the strip covers in a picture `height` high and `width` wide.
pub fn rows(width: u32, height: u32) -> std::ops::Range<u32> {
    let block = (width / BLOCKS).max(1);
    height.saturating_sub(2 * block)..height.saturating_sub(block)
}

/// Writes the strip into an 8-bit luma plane (`stride` bytes a row):
/// 235 for a one, 16 for a zero (video range). The caller greys the
/// chroma under it.
pub fn burn_luma(y: &mut [u8], stride: usize, width: u32, height: u32, unix_ms: u64) {
    let block = (width / BLOCKS).max(1) as usize;
    let bits = blocks(unix_ms);
    for row in rows(width, height) {
        let line = row as usize * stride;
        for (i, bit) in bits.iter().enumerate() {
            let from = line + i * block;
            let Some(cells) = y.get_mut(from..from + block) else {
                return;
            };
            cells.fill(if *bit { 235 } else { 16 });
        }
    }
}

/// Reads the strip back from a packed RGBA picture (any size it was
/// scaled to); `None` when the markers are not there.
pub fn read_rgba(rgba: &[u8], width: u32, height: u32) -> Option<u64> {
    let block = f64::from(width) / f64::from(BLOCKS);
    let y = (f64::from(height) - 1.5 * block).floor() as u32;
    let bit = |i: usize| -> Option<bool> {
        let x = ((i as f64 + 0.5) * block).floor() as u32;
        let at = (y as usize * width as usize + x as usize) * 4;
        let px = rgba.get(at..at + 3)?;
        let luma = (u32::from(px[0]) * 3 + u32::from(px[1]) * 6 + u32::from(px[2])) / 10;
        Some(luma >= 128)
    };
    let n = BITS as usize + 4;
    let read: Option<Vec<bool>> = (0..n).map(bit).collect();
    let read = read?;
    if read[..2] != START || read[n - 2..] != END {
        return None;
    }
    Some(
        read[2..n - 2]
            .iter()
            .fold(0u64, |acc, b| (acc << 1) | u64::from(*b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey picture with the strip burned in, as RGBA.
    fn picture(width: u32, height: u32, unix_ms: u64) -> Vec<u8> {
        let mut y = vec![128u8; (width * height) as usize];
        burn_luma(&mut y, width as usize, width, height, unix_ms);
        y.iter().flat_map(|v| [*v, *v, *v, 255]).collect()
    }

    #[test]
    fn a_burned_time_reads_back_at_full_and_half_size() {
        let ms = 1_796_000_123_456;
        let full = picture(1280, 720, ms);
        assert_eq!(read_rgba(&full, 1280, 720), Some(ms));
        // Halved by dropping every other pixel and row.
        let half: Vec<u8> = (0..360)
            .flat_map(|r| (0..640).map(move |c| (r * 2, c * 2)))
            .flat_map(|(r, c)| {
                let at = (r * 1280 + c) * 4;
                full[at..at + 4].to_vec()
            })
            .collect();
        assert_eq!(read_rgba(&half, 640, 360), Some(ms));
        assert_eq!(read_rgba(&picture(320, 180, 7), 320, 180), Some(7));
    }

    #[test]
    fn a_picture_without_the_strip_reads_as_none() {
        let grey = vec![128u8; 320 * 180 * 4];
        assert_eq!(read_rgba(&grey, 320, 180), None);
        assert_eq!(read_rgba(&[], 320, 180), None);
    }
}
