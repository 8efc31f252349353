//! Choosing the H.264 decoder element: hardware where the board has one, else software.

use super::{ensure_gstreamer, VideoError};
use crate::config::DecoderChoice;
use gstreamer as gst;
use gstreamer::prelude::*;

/// Hardware H.264 decoders by preference: Raspberry Pi 4 (v4l2 stateful), Jetson, VA-API (new and
/// old plugin), NVIDIA desktop, Rockchip/Amlogic v4l2 stateless, i.MX.
const HARDWARE_H264: &[&str] = &[
    "v4l2h264dec",
    "nvv4l2decoder",
    "vah264dec",
    "vaapih264dec",
    "nvh264dec",
    "v4l2slh264dec",
    "mppvideodec",
    "vpudec",
];

/// Software decoders, best first.
const SOFTWARE_H264: &[&str] = &["avdec_h264", "openh264dec"];

/// The decoder element a pipeline will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderPick {
    /// GStreamer factory name, e.g. `avdec_h264`.
    pub element: String,
    pub hardware: bool,
}

/// Hardware H.264 decoders present in the GStreamer registry, preferred first. Besides the known
/// names, any factory classed `Decoder/Video/Hardware` that accepts H.264 counts.
pub fn hardware_decoders() -> Vec<String> {
    if ensure_gstreamer().is_err() {
        return Vec::new();
    }
    let mut found: Vec<String> = HARDWARE_H264
        .iter()
        .filter(|name| gst::ElementFactory::find(name).is_some())
        .map(|s| s.to_string())
        .collect();
    let h264 = gst::Caps::builder("video/x-h264").build();
    let hardware = gst::ElementFactory::factories_with_type(
        gst::ElementFactoryType::DECODER
            | gst::ElementFactoryType::MEDIA_VIDEO
            | gst::ElementFactoryType::HARDWARE,
        gst::Rank::MARGINAL,
    );
    for factory in hardware {
        let name = factory.name().to_string();
        // The type filter ORs its element bits (any decoder passes), so check the class itself.
        let is_hardware = factory
            .metadata(gst::ELEMENT_METADATA_KLASS)
            .is_some_and(|klass| klass.split('/').any(|part| part == "Hardware"));
        if is_hardware && !found.contains(&name) && factory.can_sink_any_caps(&h264) {
            found.push(name);
        }
    }
    found
}

/// The software decoder to use, or an error when no H.264 software decoder is installed.
pub fn software_decoder() -> Result<DecoderPick, VideoError> {
    ensure_gstreamer()?;
    SOFTWARE_H264
        .iter()
        .find(|name| gst::ElementFactory::find(name).is_some())
        .map(|name| DecoderPick {
            element: name.to_string(),
            hardware: false,
        })
        .ok_or_else(|| VideoError::MissingElement {
            element: SOFTWARE_H264.join(" or "),
            purpose: "software H.264 decoding (install gstreamer1.0-libav)".into(),
        })
}

/// Resolves the configured choice to an element: `auto` takes the first hardware decoder and
/// falls back to software, `hardware` fails when there is none, `software` never probes.
pub fn pick_decoder(choice: DecoderChoice) -> Result<DecoderPick, VideoError> {
    ensure_gstreamer()?;
    match choice {
        DecoderChoice::Software => software_decoder(),
        DecoderChoice::Hardware => hardware_decoders()
            .into_iter()
            .next()
            .map(|element| DecoderPick {
                element,
                hardware: true,
            })
            .ok_or_else(|| VideoError::NoHardwareDecoder {
                looked_for: HARDWARE_H264.join(", "),
            }),
        DecoderChoice::Auto => match hardware_decoders().into_iter().next() {
            Some(element) => Ok(DecoderPick {
                element,
                hardware: true,
            }),
            None => software_decoder(),
        },
    }
}
