//! A minimal HTTP/1.1 client for webhook POSTs: one request per connection
//! (`Connection: close`) over a raw tokio `TcpStream`, wrapped in tokio-rustls for `https://`.
//! Only the status line of the answer matters.

use super::PublishError;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl, PublishError> {
        let bad = |reason: &str| PublishError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; use token_file",
            ));
        }
        let (host, port) =
            split_host_port(authority, if tls { 443 } else { 80 }).map_err(|r| bad(&r))?;
        Ok(HttpUrl {
            tls,
            host,
            port,
            path: path.to_string(),
        })
    }

    fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// `host[:port]` or `[v6][:port]`.
pub(crate) fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed '[' in host")?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("host is empty".into());
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("port '{p}' is not a number in 1..=65535"))?,
        None => default_port,
    };
    Ok((host.to_string(), port))
}

/// Sends one POST and returns the response status code. Errors are strings for the log.
pub(crate) async fn post(
    url: &HttpUrl,
    tls: Option<&Arc<rustls::ClientConfig>>,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<u16, String> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("connect to {}:{}: {e}", url.host, url.port))?;
    let _ = tcp.set_nodelay(true);
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: boomgate/{}\r\n",
        url.path,
        url.host_header(),
        body.len(),
        crate::VERSION
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    if url.tls {
        let config = tls.ok_or("https URL without TLS configuration")?;
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())
            .map_err(|e| format!("server name '{}': {e}", url.host))?;
        let stream = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {}: {e}", url.host))?;
        exchange(stream, head.as_bytes(), body).await
    } else {
        exchange(tcp, head.as_bytes(), body).await
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    head: &[u8],
    body: &[u8],
) -> Result<u16, String> {
    s.write_all(head).await.map_err(|e| format!("send: {e}"))?;
    s.write_all(body).await.map_err(|e| format!("send: {e}"))?;
    s.flush().await.map_err(|e| format!("send: {e}"))?;
    // Read until the status line is complete; the rest of the answer is not needed.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut parts = line.split_whitespace();
            let version = parts.next().unwrap_or("");
            let code = parts.next().and_then(|c| c.parse::<u16>().ok());
            return match (version.starts_with("HTTP/1."), code) {
                (true, Some(code)) => Ok(code),
                _ => Err(format!("bad status line '{line}'")),
            };
        }
        if buf.len() > 8192 {
            return Err("status line longer than 8 KiB".into());
        }
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("connection closed before a status line".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_webhook_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8081/hook?x=1").unwrap();
        assert_eq!(
            u,
            HttpUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8081,
                path: "/hook?x=1".into()
            }
        );
        let u = HttpUrl::parse("https://example.org").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (true, 443, "/"));
        let u = HttpUrl::parse("http://[::1]:9000/a").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert!(HttpUrl::parse("ftp://x").is_err());
        assert!(HttpUrl::parse("http://h:99999/").is_err());
        assert!(HttpUrl::parse("http://user:pw@h/").is_err());
    }
}
