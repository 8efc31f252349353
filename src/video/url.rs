//! Camera URLs: parsing into what the pipeline needs, and hiding secrets for logs.

use super::VideoError;
use crate::config::CameraSettings;
use std::path::{Path, PathBuf};

/// A camera URL, understood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SourceSpec {
    File {
        path: PathBuf,
    },
    Rtsp {
        /// URL without user info (credentials go to rtspsrc properties instead).
        location: String,
        username: Option<String>,
        password: Option<String>,
    },
    V4l2 {
        device: PathBuf,
    },
    /// `videotestsrc`; with `h264` the pattern is encoded and decoded again so the decoder path
    /// runs without a camera.
    Test {
        pattern: String,
        width: u32,
        height: u32,
        fps: u32,
        h264: bool,
    },
}

impl SourceSpec {
    /// Live sources are reconnected after failures and watched for stalls; files are not.
    pub(crate) fn is_live(&self) -> bool {
        !matches!(self, SourceSpec::File { .. })
    }

    pub(crate) fn parse(settings: &CameraSettings) -> Result<SourceSpec, VideoError> {
        let url = settings.url.trim();
        let bad = |reason: &str| VideoError::BadUrl {
            camera: settings.id.clone(),
            url: redact_url(url),
            reason: reason.to_string(),
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(
                "expected file://, rtsp://, rtsps://, v4l2:// or test://",
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let path = percent_decode(rest.split(['?', '#']).next().unwrap_or(""));
                if path.is_empty() {
                    return Err(bad("no file path after file://"));
                }
                Ok(SourceSpec::File {
                    path: PathBuf::from(path),
                })
            }
            "rtsp" | "rtsps" | "rtspt" | "rtspu" => {
                let (authority, tail) = match rest.find(['/', '?', '#']) {
                    Some(i) => rest.split_at(i),
                    None => (rest, ""),
                };
                let (userinfo, host) = match authority.rfind('@') {
                    Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
                    None => (None, authority),
                };
                if host.is_empty() {
                    return Err(bad("no host"));
                }
                let (mut username, mut password) = (None, None);
                if let Some(info) = userinfo {
                    let (u, p) = match info.split_once(':') {
                        Some((u, p)) => (u, Some(p)),
                        None => (info, None),
                    };
                    if !u.is_empty() {
                        username = Some(percent_decode(u));
                    }
                    password = p.map(percent_decode);
                }
                if let Some(u) = &settings.username {
                    username = Some(u.clone());
                }
                if let Some(file) = &settings.password_file {
                    password = Some(read_password_file(&settings.id, file)?);
                }
                Ok(SourceSpec::Rtsp {
                    location: format!("{scheme}://{host}{tail}"),
                    username,
                    password,
                })
            }
            "v4l2" => {
                let device = rest.split(['?', '#']).next().unwrap_or("");
                if device.is_empty() {
                    return Err(bad("no device after v4l2://, e.g. v4l2:///dev/video0"));
                }
                Ok(SourceSpec::V4l2 {
                    device: PathBuf::from(device),
                })
            }
            "test" => {
                let mut spec = SourceSpec::Test {
                    pattern: "ball".into(),
                    width: 1280,
                    height: 720,
                    fps: 25,
                    h264: false,
                };
                let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
                if let SourceSpec::Test {
                    pattern,
                    width,
                    height,
                    fps,
                    h264,
                } = &mut spec
                {
                    for pair in query.split('&').filter(|p| !p.is_empty()) {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        let number = || -> Result<u32, VideoError> {
                            value
                                .parse::<u32>()
                                .ok()
                                .filter(|v| (1..=8192).contains(v))
                                .ok_or_else(|| bad(&format!("{key} must be a whole number from 1 to 8192, got {value:?}")))
                        };
                        match key {
                            "pattern" => {
                                if value.is_empty()
                                    || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                                {
                                    return Err(bad(&format!(
                                        "pattern {value:?} is not a videotestsrc pattern name"
                                    )));
                                }
                                *pattern = value.to_string();
                            }
                            "width" => *width = number()?,
                            "height" => *height = number()?,
                            "fps" => *fps = number()?,
                            "codec" => match value {
                                "h264" => *h264 = true,
                                "raw" => *h264 = false,
                                _ => {
                                    return Err(bad(&format!(
                                        "codec must be h264 or raw, got {value:?}"
                                    )))
                                }
                            },
                            _ => {
                                return Err(bad(&format!(
                                "unknown parameter {key:?} (pattern, width, height, fps, codec)"
                            )))
                            }
                        }
                    }
                }
                Ok(spec)
            }
            other => Err(bad(&format!("unsupported scheme {other:?}"))),
        }
    }
}

/// First line of the password file, without the line break.
fn read_password_file(camera: &str, path: &Path) -> Result<String, VideoError> {
    let text = std::fs::read_to_string(path).map_err(|source| VideoError::PasswordFile {
        camera: camera.to_string(),
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string())
}

/// Decodes `%XX` escapes; malformed escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters whose values are hidden by [`redact_url`].
const SECRET_PARAMS: &[&str] = &[
    "password", "passwd", "pwd", "pass", "token", "secret", "key", "auth",
];

/// The URL with any password (user info or a secret-looking query parameter) replaced by `***`,
/// for logs, errors and the status page.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (info, host) = authority.split_at(at);
            match info.split_once(':') {
                Some((user, _)) => format!("{user}:***{host}"),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, format!("#{f}")),
                None => (query, String::new()),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                        format!("{k}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}{fragment}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> CameraSettings {
        CameraSettings {
            url: url.into(),
            ..CameraSettings::default()
        }
    }

    #[test]
    fn redaction_hides_passwords_only() {
        assert_eq!(
            redact_url("rtsp://admin:s3cr%40t@10.0.0.5:554/h264?x=1"),
            "rtsp://admin:***@10.0.0.5:554/h264?x=1"
        );
        assert_eq!(
            redact_url("rtsp://admin@cam/stream"),
            "rtsp://admin@cam/stream"
        );
        assert_eq!(
            redact_url("rtsp://cam/s?user=a&password=b"),
            "rtsp://cam/s?user=a&password=***"
        );
        assert_eq!(redact_url("file:///tmp/a.mp4"), "file:///tmp/a.mp4");
    }

    #[test]
    fn rtsp_credentials_leave_the_location() {
        let spec = SourceSpec::parse(&settings("rtsp://bob:p%3Ass@cam:8554/live")).unwrap();
        assert_eq!(
            spec,
            SourceSpec::Rtsp {
                location: "rtsp://cam:8554/live".into(),
                username: Some("bob".into()),
                password: Some("p:ss".into())
            }
        );
    }

    #[test]
    fn missing_password_file_is_named() {
        let mut s = settings("rtsp://cam/live");
        s.password_file = Some("/nonexistent/cam.pass".into());
        let err = SourceSpec::parse(&s).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/cam.pass"), "{err}");
    }

    #[test]
    fn test_pattern_parameters() {
        let spec = SourceSpec::parse(&settings(
            "test://?pattern=ball&width=320&height=240&fps=10&codec=h264",
        ))
        .unwrap();
        assert_eq!(
            spec,
            SourceSpec::Test {
                pattern: "ball".into(),
                width: 320,
                height: 240,
                fps: 10,
                h264: true
            }
        );
        assert!(SourceSpec::parse(&settings("test://?width=abc")).is_err());
        assert!(SourceSpec::parse(&settings("test://?pattern=ball!fakesink")).is_err());
    }

    #[test]
    fn unknown_scheme_is_rejected_with_the_url() {
        let err = SourceSpec::parse(&settings("http://u:pw@cam/x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("http://u:***@cam/x") && !err.contains("pw@"),
            "{err}"
        );
        assert_eq!(
            SourceSpec::parse(&settings("file:///a%20b.mp4")).unwrap(),
            SourceSpec::File {
                path: "/a b.mp4".into()
            }
        );
    }
}
