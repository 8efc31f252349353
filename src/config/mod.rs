//! User configuration: one TOML file, deserialized with unknown fields rejected.
//!
//! `Config` is what the installer writes (gst-plugins-rs calls this `Settings`); every stage reads
//! its own section and builds its runtime state from it on start. Errors name the file, the line
//! and the field.

mod error;
mod paths;

pub use error::ConfigError;
pub use paths::{
    default_litert_candidates, default_model_dirs, demo_allowlist_path, demo_clip_path,
    resolve_model_path,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub site: SiteSettings,
    pub runtime: RuntimeSettings,
    pub cameras: Vec<CameraSettings>,
    pub detector: DetectorSettings,
    pub ocr: OcrSettings,
    pub tracker: TrackerSettings,
    pub formats: FormatSettings,
    pub access: AccessSettings,
    pub relays: Vec<RelaySettings>,
    pub storage: StorageSettings,
    pub logging: LoggingSettings,
    pub http: HttpSettings,
    pub mqtt: MqttSettings,
    pub webhooks: Vec<WebhookSettings>,
    pub homeassistant: HomeAssistantSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            site: SiteSettings::default(),
            runtime: RuntimeSettings::default(),
            cameras: Vec::new(),
            detector: DetectorSettings::default(),
            ocr: OcrSettings::default(),
            tracker: TrackerSettings::default(),
            formats: FormatSettings::default(),
            access: AccessSettings::default(),
            relays: Vec::new(),
            storage: StorageSettings::default(),
            logging: LoggingSettings::default(),
            http: HttpSettings::default(),
            mqtt: MqttSettings::default(),
            webhooks: Vec::new(),
            homeassistant: HomeAssistantSettings::default(),
        }
    }
}

/// Identity of this gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSettings {
    /// Short id used in MQTT topics and events (`[A-Za-z0-9_-]+`).
    pub id: String,
    /// Human-readable name for the status page.
    pub name: String,
    /// IANA time zone for allow-list schedules; empty means the system's local zone.
    pub timezone: String,
}

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            id: "gate1".into(),
            name: "boomgate".into(),
            timezone: String::new(),
        }
    }
}

/// Where the inference runtime and models come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Path of `libLiteRt.so`; unset means the documented search order
    /// (see [`default_litert_candidates`]).
    pub litert_library: Option<PathBuf>,
    /// Folder holding the model files and their sidecars; unset means the documented search.
    pub models_dir: Option<PathBuf>,
}

/// How a camera stream is decoded.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DecoderChoice {
    /// Hardware decoder if the GStreamer registry has one for the stream, else software.
    #[default]
    Auto,
    /// Hardware only; starting fails with a clear error when none exists.
    Hardware,
    /// Software only (avdec_*).
    Software,
}

/// RTSP lower transport.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    #[default]
    Tcp,
    Udp,
    /// Let rtspsrc try UDP then fall back to TCP.
    Auto,
}

/// One camera.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CameraSettings {
    /// Unique id (`[A-Za-z0-9_-]+`), used in events and topics.
    pub id: String,
    /// `file:///path.mp4`, `rtsp://host/path`, `v4l2:///dev/video0`, or `test://` (test pattern).
    pub url: String,
    /// Restart a `file://` source at its end (demo and soak tests).
    #[serde(rename = "loop")]
    pub loop_file: bool,
    pub decoder: DecoderChoice,
    pub rtsp_transport: RtspTransport,
    /// RTSP user name (overrides one in the URL).
    pub username: Option<String>,
    /// File holding the RTSP password (first line), so secrets stay out of the config.
    pub password_file: Option<PathBuf>,
    /// Upper bound on frames analysed per second; `0` means every frame the pipeline can take.
    pub max_fps: f32,
    /// Region of interest `[x1, y1, x2, y2]` in source pixels; detections outside are ignored.
    pub roi: Option<[u32; 4]>,
    /// Relay this camera opens for allowed plates; unset means a read-only camera.
    pub relay: Option<String>,
    /// Restart delay cap after the stream fails (seconds). Backoff doubles from 1 s to this.
    pub reconnect_max_s: u32,
    /// A camera that delivers no frame for this long counts as stalled: a live stream is
    /// reconnected and `/healthz` turns unhealthy.
    pub frame_timeout_s: u32,
    /// A streaming camera whose frames have not reached the analysis for this long means the
    /// daemon is stuck: the systemd watchdog pings stop (systemd restarts the daemon). `0` means
    /// `frame_timeout_s`; raise it where one frame's analysis can take longer (emulated boards).
    pub analysis_timeout_s: u32,
}

impl CameraSettings {
    /// [`CameraSettings::analysis_timeout_s`] with its default applied.
    pub fn analysis_timeout_s(&self) -> u32 {
        if self.analysis_timeout_s == 0 {
            self.frame_timeout_s
        } else {
            self.analysis_timeout_s
        }
    }
}

impl Default for CameraSettings {
    fn default() -> Self {
        CameraSettings {
            id: "cam1".into(),
            url: String::new(),
            loop_file: false,
            decoder: DecoderChoice::Auto,
            rtsp_transport: RtspTransport::Tcp,
            username: None,
            password_file: None,
            max_fps: 0.0,
            roi: None,
            relay: None,
            reconnect_max_s: 30,
            frame_timeout_s: 15,
            analysis_timeout_s: 0,
        }
    }
}

/// Plate detector model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {
    /// Sidecar JSON of the model (its `.tflite` is named inside); relative paths are looked up in
    /// the models folder.
    pub model: PathBuf,
    /// CPU threads for inference.
    pub threads: u32,
    /// Overrides the sidecar's score threshold.
    pub score_threshold: Option<f32>,
    /// Overrides the sidecar's NMS IoU threshold.
    pub nms_iou: Option<f32>,
    /// Boxes narrower than this (source pixels) are ignored: too small to read.
    pub min_width_px: u32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            model: PathBuf::from("plate-detector.json"),
            threads: 2,
            score_threshold: None,
            nms_iou: None,
            min_width_px: 40,
        }
    }
}

/// Plate reader (OCR) model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OcrSettings {
    pub model: PathBuf,
    pub threads: u32,
    /// Crops are widened by this fraction of the box on each side before reading.
    pub crop_margin: f32,
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            model: PathBuf::from("plate-ocr.json"),
            threads: 1,
            crop_margin: 0.0,
        }
    }
}

/// Tracking a vehicle across frames and voting its text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerSettings {
    /// Minimum box overlap (IoU) to continue a track from one frame to the next.
    pub min_iou: f32,
    /// Minimum text similarity (0..1) to continue a track when boxes do not overlap enough.
    pub min_text_similarity: f32,
    /// A track closes when its plate has not been seen for this long.
    pub max_gap_ms: u64,
    /// Reads needed before a track may emit.
    pub min_reads: u32,
    /// Emit once the voted text stayed the same over this many consecutive reads.
    pub stable_reads: u32,
    /// Voted confidence needed to emit early; a closing track emits its best vote regardless.
    pub min_confidence: f32,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            min_iou: 0.2,
            min_text_similarity: 0.6,
            max_gap_ms: 1500,
            min_reads: 2,
            stable_reads: 2,
            min_confidence: 0.6,
        }
    }
}

/// A user-defined plate format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomFormat {
    pub name: String,
    /// Regular expression over the normalised text (A-Z, 0-9); anchored automatically.
    pub regex: String,
}

/// Which plate formats count as valid plates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FormatSettings {
    /// Presets: `us`, `eu`, `br` (both of: `br-old` `LLLDDDD`, `br-mercosul` `LLLDLDD`).
    pub presets: Vec<String>,
    pub custom: Vec<CustomFormat>,
}

impl Default for FormatSettings {
    fn default() -> Self {
        FormatSettings {
            presets: vec!["us".into(), "eu".into(), "br".into()],
            custom: Vec::new(),
        }
    }
}

/// Access policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessSettings {
    /// Largest edit distance for a fuzzy allow/deny match (`0` = exact only).
    pub max_distance: u32,
    /// Seconds during which the same plate does not open the same relay again.
    pub plate_cooldown_s: u32,
    /// CSV imported into the allow list at start (upsert by plate), optional.
    pub import_csv: Option<PathBuf>,
}

impl Default for AccessSettings {
    fn default() -> Self {
        AccessSettings {
            max_distance: 1,
            plate_cooldown_s: 30,
            import_csv: None,
        }
    }
}

/// What drives a relay line.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RelayDriver {
    /// Recorded in memory (and optionally a file); no hardware.
    #[default]
    Simulated,
    /// Linux GPIO character device.
    Gpio,
}

/// One barrier relay.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySettings {
    pub id: String,
    pub driver: RelayDriver,
    /// GPIO chip: `/dev/gpiochip0` or `gpiochip0` (gpio driver).
    pub chip: Option<String>,
    /// Line offset on the chip (gpio driver); either this or `line_name`.
    pub line: Option<u32>,
    /// Line name, e.g. `GPIO17` (gpio driver).
    pub line_name: Option<String>,
    /// The relay closes when the line is low.
    pub active_low: bool,
    /// Default pulse length.
    pub pulse_ms: u32,
    /// Hard upper bound for any pulse (commands asking for more are refused).
    pub max_pulse_ms: u32,
    /// Minimum time between two pulses of this relay.
    pub cooldown_ms: u32,
    /// Simulated driver: append each transition as a JSON line to this file.
    pub transitions_file: Option<PathBuf>,
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            id: "gate".into(),
            driver: RelayDriver::Simulated,
            chip: None,
            line: None,
            line_name: None,
            active_low: false,
            pulse_ms: 800,
            max_pulse_ms: 3000,
            cooldown_ms: 1000,
            transitions_file: None,
        }
    }
}

/// Events, media and retention.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    /// Events (rows and media) older than this are deleted; `0` keeps them forever.
    pub retention_days: u32,
    /// Media and database together stay below this many MiB; oldest events go first.
    pub max_disk_mb: u64,
    /// Keep at least this much free on the data file system (MiB); oldest events go first.
    /// Checked at start, every 10 minutes, and after stored events (at most every 5 s).
    pub min_free_mb: u64,
    pub save_crops: bool,
    pub save_frames: bool,
    pub jpeg_quality: u8,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            data_dir: PathBuf::from("/var/lib/boomgate"),
            retention_days: 90,
            max_disk_mb: 4096,
            min_free_mb: 256,
            save_crops: true,
            save_frames: true,
            jpeg_quality: 85,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSettings {
    /// `tracing` filter, e.g. `info` or `boomgate=debug,warn`. `RUST_LOG` overrides it.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        LoggingSettings {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Local status page and API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub enabled: bool,
    /// `address:port`.
    pub listen: String,
    /// File holding the bearer token for changing things; unset disables all writes.
    pub token_file: Option<PathBuf>,
    /// Require the token for reads too.
    pub protect_reads: bool,
    /// Live messages a WebSocket client may fall behind before it is skipped ahead.
    pub live_buffer: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            enabled: true,
            listen: "127.0.0.1:8080".into(),
            token_file: None,
            protect_reads: false,
            live_buffer: 256,
        }
    }
}

/// Back-office delivery over MQTT.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    pub enabled: bool,
    /// `mqtt://host:1883` or `mqtts://host:8883`.
    pub url: String,
    pub client_id: String,
    pub username: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
    /// CA certificate (PEM) for `mqtts://`; unset uses the system roots.
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub keep_alive_s: u64,
    /// Topic root; `{site}` is replaced by the site id.
    pub topic_prefix: String,
    /// Accept `relay/<id>/set` and `allowlist/set` commands.
    pub commands: bool,
    /// Publishes in flight (sent, PUBACK not yet seen).
    pub max_inflight: u16,
    /// Seconds between retained `status` messages.
    pub status_interval_s: u64,
}

impl Default for MqttSettings {
    fn default() -> Self {
        MqttSettings {
            enabled: false,
            url: "mqtt://localhost:1883".into(),
            client_id: String::new(),
            username: None,
            password_file: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            keep_alive_s: 30,
            topic_prefix: "boomgate/{site}".into(),
            commands: true,
            max_inflight: 32,
            status_interval_s: 30,
        }
    }
}

/// Which events a webhook receives.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFilter {
    #[default]
    All,
    /// Events that decided something (`open` or `deny`), not `ignore`.
    Decisions,
    Denies,
}

/// A webhook endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub id: String,
    pub url: String,
    pub filter: WebhookFilter,
    /// File holding the bearer token sent as `Authorization`.
    pub token_file: Option<PathBuf>,
    /// File holding the HMAC-SHA256 key for the signature header.
    pub secret_file: Option<PathBuf>,
    pub timeout_ms: u64,
    pub max_backoff_s: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            id: "webhook".into(),
            url: String::new(),
            filter: WebhookFilter::All,
            token_file: None,
            secret_file: None,
            timeout_ms: 5000,
            max_backoff_s: 60,
        }
    }
}

/// Home Assistant MQTT discovery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HomeAssistantSettings {
    pub enabled: bool,
    pub discovery_prefix: String,
}

impl Default for HomeAssistantSettings {
    fn default() -> Self {
        HomeAssistantSettings {
            enabled: false,
            discovery_prefix: "homeassistant".into(),
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let de =
            toml::de::Deserializer::parse(text).map_err(|e| error::from_toml(path, text, e))?;
        let config: Config = serde_path_to_error::deserialize(de)
            .map_err(|e| error::from_path_error(path, text, e))?;
        config
            .validate()
            .map_err(|(field, message)| error::semantic(path, text, &field, message))?;
        Ok(config)
    }

    /// The built-in demo configuration: bundled clip looped, simulated relay, data in
    /// `./boomgate-data`, MQTT off, status page on localhost.
    pub fn demo() -> Config {
        let mut config = Config::default();
        config.site = SiteSettings {
            id: "demo".into(),
            name: "boomgate demo".into(),
            timezone: String::new(),
        };
        config.cameras = vec![CameraSettings {
            id: "demo".into(),
            url: format!("file://{}", demo_clip_path().display()),
            loop_file: true,
            relay: Some("gate".into()),
            ..CameraSettings::default()
        }];
        config.relays = vec![RelaySettings::default()];
        let allow = demo_allowlist_path();
        if allow.exists() {
            config.access.import_csv = Some(allow);
        }
        config.storage.data_dir = PathBuf::from("./boomgate-data");
        config.storage.max_disk_mb = 512;
        config
    }

    /// Checks what serde cannot: references between sections, ranges, duplicate ids.
    /// Returns the dotted field path and a message.
    fn validate(&self) -> Result<(), (String, String)> {
        let id_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !id_ok(&self.site.id) {
            return Err((
                "site.id".into(),
                format!(
                    "'{}' must be non-empty and use only A-Z a-z 0-9 _ -",
                    self.site.id
                ),
            ));
        }
        if !self.site.timezone.is_empty() && jiff::tz::TimeZone::get(&self.site.timezone).is_err() {
            return Err((
                "site.timezone".into(),
                format!("unknown time zone '{}'", self.site.timezone),
            ));
        }
        let mut relay_ids = BTreeMap::new();
        for (i, r) in self.relays.iter().enumerate() {
            let f = |name: &str| format!("relays[{i}].{name}");
            if !id_ok(&r.id) {
                return Err((
                    f("id"),
                    format!("'{}' must be non-empty and use only A-Z a-z 0-9 _ -", r.id),
                ));
            }
            if relay_ids.insert(r.id.clone(), i).is_some() {
                return Err((f("id"), format!("duplicate relay id '{}'", r.id)));
            }
            if r.max_pulse_ms == 0 || r.max_pulse_ms > 60_000 {
                return Err((
                    f("max_pulse_ms"),
                    format!("{} is outside 1..=60000", r.max_pulse_ms),
                ));
            }
            if r.pulse_ms == 0 || r.pulse_ms > r.max_pulse_ms {
                return Err((
                    f("pulse_ms"),
                    format!(
                        "{} must be in 1..=max_pulse_ms ({})",
                        r.pulse_ms, r.max_pulse_ms
                    ),
                ));
            }
            if r.driver == RelayDriver::Gpio {
                if r.chip.is_none() {
                    return Err((
                        f("chip"),
                        "the gpio driver needs a chip, e.g. \"gpiochip0\"".into(),
                    ));
                }
                if r.line.is_none() == r.line_name.is_none() {
                    return Err((
                        f("line"),
                        "the gpio driver needs exactly one of `line` or `line_name`".into(),
                    ));
                }
            }
        }
        let mut camera_ids = BTreeMap::new();
        for (i, c) in self.cameras.iter().enumerate() {
            let f = |name: &str| format!("cameras[{i}].{name}");
            if !id_ok(&c.id) {
                return Err((
                    f("id"),
                    format!("'{}' must be non-empty and use only A-Z a-z 0-9 _ -", c.id),
                ));
            }
            if camera_ids.insert(c.id.clone(), i).is_some() {
                return Err((f("id"), format!("duplicate camera id '{}'", c.id)));
            }
            let scheme_ok = ["file://", "rtsp://", "rtsps://", "v4l2://", "test://"]
                .iter()
                .any(|s| c.url.starts_with(s));
            if !scheme_ok {
                return Err((
                    f("url"),
                    format!(
                        "'{}' must start with file://, rtsp://, rtsps://, v4l2:// or test://",
                        c.url
                    ),
                ));
            }
            if let Some(relay) = &c.relay {
                if !relay_ids.contains_key(relay) {
                    return Err((
                        f("relay"),
                        format!("no relay with id '{relay}' in [[relays]]"),
                    ));
                }
            }
            if let Some([x1, y1, x2, y2]) = c.roi {
                if x2 <= x1 || y2 <= y1 {
                    return Err((f("roi"), format!("[{x1}, {y1}, {x2}, {y2}] is empty; expected [x1, y1, x2, y2] with x2 > x1 and y2 > y1")));
                }
            }
            if !(c.max_fps >= 0.0 && c.max_fps.is_finite()) {
                return Err((
                    f("max_fps"),
                    format!("{} must be 0 (unlimited) or positive", c.max_fps),
                ));
            }
            if c.reconnect_max_s == 0 {
                return Err((f("reconnect_max_s"), "must be at least 1".into()));
            }
            if c.frame_timeout_s == 0 {
                return Err((f("frame_timeout_s"), "must be at least 1".into()));
            }
        }
        for (name, threads) in [
            ("detector.threads", self.detector.threads),
            ("ocr.threads", self.ocr.threads),
        ] {
            if !(1..=16).contains(&threads) {
                return Err((name.into(), format!("{threads} is outside 1..=16")));
            }
        }
        if !(0.0..=0.5).contains(&self.ocr.crop_margin) {
            return Err((
                "ocr.crop_margin".into(),
                format!("{} is outside 0..=0.5", self.ocr.crop_margin),
            ));
        }
        for (i, p) in self.formats.presets.iter().enumerate() {
            if !["us", "eu", "br", "br-old", "br-mercosul"].contains(&p.as_str()) {
                return Err((
                    format!("formats.presets[{i}]"),
                    format!("unknown preset '{p}'; expected us, eu, br, br-old or br-mercosul"),
                ));
            }
        }
        for (i, c) in self.formats.custom.iter().enumerate() {
            if let Err(e) = regex::Regex::new(&c.regex) {
                return Err((
                    format!("formats.custom[{i}].regex"),
                    format!("invalid regular expression: {e}"),
                ));
            }
        }
        let t = &self.tracker;
        if !(0.0..=1.0).contains(&t.min_iou) {
            return Err((
                "tracker.min_iou".into(),
                format!("{} is outside 0..=1", t.min_iou),
            ));
        }
        if !(0.0..=1.0).contains(&t.min_text_similarity) {
            return Err((
                "tracker.min_text_similarity".into(),
                format!("{} is outside 0..=1", t.min_text_similarity),
            ));
        }
        if !(0.0..=1.0).contains(&t.min_confidence) {
            return Err((
                "tracker.min_confidence".into(),
                format!("{} is outside 0..=1", t.min_confidence),
            ));
        }
        if t.min_reads == 0 || t.stable_reads == 0 {
            return Err((
                "tracker.min_reads".into(),
                "min_reads and stable_reads must be at least 1".into(),
            ));
        }
        if self.access.max_distance > 3 {
            return Err((
                "access.max_distance".into(),
                format!(
                    "{} is above 3: fuzzy matching that loose would open for other cars",
                    self.access.max_distance
                ),
            ));
        }
        if !(1..=100).contains(&self.storage.jpeg_quality) {
            return Err((
                "storage.jpeg_quality".into(),
                format!("{} is outside 1..=100", self.storage.jpeg_quality),
            ));
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(("storage.data_dir".into(), "must not be empty".into()));
        }
        if self.http.protect_reads && self.http.token_file.is_none() {
            return Err((
                "http.protect_reads".into(),
                "needs http.token_file: without a token no read could be authorised".into(),
            ));
        }
        if !(1..=65_536).contains(&self.http.live_buffer) {
            return Err((
                "http.live_buffer".into(),
                format!("{} is not between 1 and 65536", self.http.live_buffer),
            ));
        }
        if self.http.enabled && self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "http.listen".into(),
                format!(
                    "'{}' is not an address:port such as 127.0.0.1:8080",
                    self.http.listen
                ),
            ));
        }
        if self.mqtt.enabled {
            if !(self.mqtt.url.starts_with("mqtt://") || self.mqtt.url.starts_with("mqtts://")) {
                return Err((
                    "mqtt.url".into(),
                    format!("'{}' must start with mqtt:// or mqtts://", self.mqtt.url),
                ));
            }
            if self.mqtt.max_inflight == 0 {
                return Err(("mqtt.max_inflight".into(), "must be at least 1".into()));
            }
        }
        let mut webhook_ids = BTreeMap::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            if webhook_ids.insert(w.id.clone(), i).is_some() {
                return Err((
                    format!("webhooks[{i}].id"),
                    format!("duplicate webhook id '{}'", w.id),
                ));
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err((
                    format!("webhooks[{i}].url"),
                    format!("'{}' must start with http:// or https://", w.url),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
