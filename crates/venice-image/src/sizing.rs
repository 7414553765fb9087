//! Output sizing: [`Size`], [`AspectRatio`], [`Resolution`] and [`Quality`].

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use venice_openapi::types;

use crate::error::ValidationError;

/// `Serialize` as the `Display` text (the wire value), for each sizing type.
macro_rules! serialize_as_text {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}

serialize_as_text!(Size, AspectRatio, Resolution, Quality);

/// How the output size is chosen. Which variant a model accepts depends on its
/// sizing mode (see [`SizingMode`](crate::models::SizingMode)).
///
/// ```
/// use venice_image::{AspectRatio, Resolution, Size};
///
/// let pixels = Size::Pixels { width: 1024, height: 768 };
/// let ratio = Size::AspectRatio("16:9".parse().unwrap());
/// let tiered = Size::Tiered {
///     aspect_ratio: AspectRatio::new(3, 2).unwrap(),
///     resolution: Resolution::TwoK,
/// };
/// assert_eq!(ratio.to_string(), "16:9");
/// assert_eq!(tiered.to_string(), "3:2@2K");
/// assert_eq!(pixels.to_string(), "1024x768");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Size {
    /// Width and height in pixels (pixel-sized models), each 1..=1280.
    Pixels {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// An aspect ratio alone (aspect-sized models).
    AspectRatio(AspectRatio),
    /// An aspect ratio with a resolution tier (tiered models).
    Tiered {
        /// The aspect ratio.
        aspect_ratio: AspectRatio,
        /// The resolution tier.
        resolution: Resolution,
    },
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Pixels { width, height } => write!(f, "{width}x{height}"),
            Size::AspectRatio(ar) => write!(f, "{ar}"),
            Size::Tiered {
                aspect_ratio,
                resolution,
            } => write!(f, "{aspect_ratio}@{resolution}"),
        }
    }
}

impl FromStr for Size {
    type Err = ValidationError;

    /// Parses `1024x768`, `16:9` or `16:9@2K`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some((ar, res)) = s.split_once('@') {
            return Ok(Size::Tiered {
                aspect_ratio: ar.parse()?,
                resolution: res.parse()?,
            });
        }
        if s.contains(':') {
            return Ok(Size::AspectRatio(s.parse()?));
        }
        let bad =
            || ValidationError::new("size", format!("expected WxH, W:H or W:H@TIER, got {s:?}"));
        let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
        let width = w.trim().parse().map_err(|_| bad())?;
        let height = h.trim().parse().map_err(|_| bad())?;
        Ok(Size::Pixels { width, height })
    }
}

/// An aspect ratio `W:H` with `W` and `H` in 1..=999.
///
/// ```
/// use venice_image::AspectRatio;
/// let ar: AspectRatio = "16:9".parse().unwrap();
/// assert_eq!((ar.width(), ar.height()), (16, 9));
/// assert!(AspectRatio::new(0, 1).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AspectRatio {
    w: u16,
    h: u16,
}

impl AspectRatio {
    /// A ratio `w:h`; both terms must be in 1..=999.
    pub fn new(w: u16, h: u16) -> Result<Self, ValidationError> {
        if !(1..=999).contains(&w) || !(1..=999).contains(&h) {
            return Err(ValidationError::new(
                "aspect_ratio",
                format!("both terms must be in 1..=999, got {w}:{h}"),
            ));
        }
        Ok(Self { w, h })
    }

    /// The width term.
    pub fn width(&self) -> u16 {
        self.w
    }

    /// The height term.
    pub fn height(&self) -> u16 {
        self.h
    }
}

impl fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.w, self.h)
    }
}

impl FromStr for AspectRatio {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ValidationError::new(
                "aspect_ratio",
                format!("expected W:H such as 16:9, got {s:?}"),
            )
        };
        let (w, h) = s.trim().split_once(':').ok_or_else(bad)?;
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(w) || !digits(h) {
            return Err(bad());
        }
        let w = w.parse().map_err(|_| bad())?;
        let h = h.parse().map_err(|_| bad())?;
        AspectRatio::new(w, h)
    }
}

/// A resolution tier of tiered models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resolution {
    /// `1K`.
    OneK,
    /// `2K`.
    TwoK,
    /// `4K`.
    FourK,
}

impl Resolution {
    /// Every tier, smallest first.
    pub const ALL: [Resolution; 3] = [Resolution::OneK, Resolution::TwoK, Resolution::FourK];

    /// The wire value (`1K`, `2K`, `4K`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Resolution::OneK => "1K",
            Resolution::TwoK => "2K",
            Resolution::FourK => "4K",
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Resolution {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "1K" => Ok(Resolution::OneK),
            "2K" => Ok(Resolution::TwoK),
            "4K" => Ok(Resolution::FourK),
            _ => Err(ValidationError::new(
                "resolution",
                format!("expected 1K, 2K or 4K, got {s:?}"),
            )),
        }
    }
}

/// Output quality tier (models with `qualities`); higher costs more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Quality {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
}

impl Quality {
    /// Every tier, lowest first.
    pub const ALL: [Quality; 3] = [Quality::Low, Quality::Medium, Quality::High];

    /// The wire value (`low`, `medium`, `high`), the spec's.
    pub fn as_str(&self) -> &'static str {
        types::ImageQuality::from(*self).as_str()
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Quality {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        types::ImageQuality::parse_ignore_case(s)
            .map(Self::from)
            .ok_or_else(|| {
                ValidationError::new(
                    "quality",
                    format!("expected low, medium or high, got {s:?}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_ratio_parse_and_display() {
        let ar: AspectRatio = "16:9".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ar.to_string(), "16:9");
        assert_eq!(
            ar,
            AspectRatio::new(16, 9).unwrap_or_else(|e| panic!("{e}"))
        );
        assert!("0:1".parse::<AspectRatio>().is_err());
        assert!("1000:1".parse::<AspectRatio>().is_err());
        assert!("16/9".parse::<AspectRatio>().is_err());
        assert!("16:".parse::<AspectRatio>().is_err());
        assert!("+1:2".parse::<AspectRatio>().is_err());
        assert!(AspectRatio::new(999, 999).is_ok());
        assert!(AspectRatio::new(1, 1000).is_err());
        let e = AspectRatio::new(0, 2)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("`aspect_ratio`: "), "{e}");
    }

    #[test]
    fn resolution_and_quality() {
        for (s, r) in [
            ("1K", Resolution::OneK),
            ("2k", Resolution::TwoK),
            ("4K", Resolution::FourK),
        ] {
            assert_eq!(s.parse::<Resolution>().ok(), Some(r));
        }
        assert_eq!(Resolution::FourK.to_string(), "4K");
        assert!("8K".parse::<Resolution>().is_err());
        assert_eq!("High".parse::<Quality>().ok(), Some(Quality::High));
        assert_eq!(Quality::Low.to_string(), "low");
        assert!("ultra".parse::<Quality>().is_err());
    }

    #[test]
    fn size_roundtrip() {
        for s in ["1024x768", "16:9", "3:2@2K"] {
            let size: Size = s.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(size.to_string(), s);
        }
        assert!("abc".parse::<Size>().is_err());
        assert!("10x".parse::<Size>().is_err());
    }
}
