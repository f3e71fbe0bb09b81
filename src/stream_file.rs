//! Reading stream metadata files (`stream_file`, `marketplace_file`) from disk into
//! the core's [`StreamSet`]; parsing is the core's ([`parse_stream_document`]).

use std::path::Path;

use crate::stream::{parse_stream_document, StreamError, StreamSet};

/// Reads and parses a stream file ([`parse_stream_document`]); errors name the path.
pub fn read_stream_file(path: &Path) -> Result<StreamSet, StreamError> {
    let bytes = std::fs::read(path).map_err(|cause| StreamError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    parse_stream_document(&bytes).map_err(|cause| StreamError::File {
        path: path.to_path_buf(),
        cause: Box::new(cause),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture_path(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel)
    }

    #[test]
    fn file_errors_name_the_path() {
        let missing = fixture_path("stream/does-not-exist.json");
        let err = read_stream_file(&missing).unwrap_err();
        assert!(matches!(err, StreamError::Io { .. }));
        assert!(err.to_string().contains("does-not-exist.json"), "{err}");
        let not_stream = fixture_path("cluster/insights-sample-infrastructure.json");
        let err = read_stream_file(&not_stream).unwrap_err();
        assert!(matches!(err, StreamError::File { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("insights-sample-infrastructure.json"),
            "{err}"
        );
    }
}
