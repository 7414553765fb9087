//! Spec-faithful Venice image API server (work in progress: see the mock issue).
