//! A small `multipart/form-data` reader for the console's one upload (a configuration file of
//! at most a few hundred kilobytes): the parts' names, file names and bytes. Anything it cannot
//! read is an error the page reports; it never panics.

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The field name.
    pub name: String,
    /// The uploaded file's name, for file fields.
    pub filename: Option<String>,
    /// The content.
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').find_map(|p| {
        let p = p.trim();
        let v = p.strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim_matches('"').to_string())
    })
}

/// The parts of a body sent with `content_type` (`multipart/form-data; boundary=…`).
pub fn parse(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    if !content_type.starts_with("multipart/form-data") {
        return Err("the form is not multipart/form-data".into());
    }
    let boundary = param(content_type, "boundary").ok_or("the form has no boundary")?;
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut at = find(body, &delim, 0).ok_or("the form has no parts")? + delim.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            break;
        }
        // Skip the CRLF after the delimiter.
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or("a part has no headers")?;
        let head = String::from_utf8_lossy(&body[at..head_end]).to_string();
        let start = head_end + 4;
        let next = find(body, &delim, start).ok_or("a part is not closed")?;
        // The content ends before the CRLF that precedes the next delimiter.
        let end = next.saturating_sub(2).max(start);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .ok_or("a part has no content-disposition")?;
        parts.push(Part {
            name: param(disposition, "name").ok_or("a part has no name")?,
            filename: param(disposition, "filename"),
            data: body[start..end].to_vec(),
        });
        at = next + delim.len();
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_read_with_their_names_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.toml\"\r\nContent-Type: application/octet-stream\r\n\r\nversion = \"x\"\r\nline2\r\n--XyZ--\r\n";
        let p = parse("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].data.as_slice()),
            ("csrf", &b"tok"[..])
        );
        assert_eq!(p[1].filename.as_deref(), Some("c.toml"));
        assert_eq!(p[1].data, b"version = \"x\"\r\nline2");
        assert!(parse("text/plain", body).is_err());
        assert!(parse("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbroken").is_err());
    }
}
