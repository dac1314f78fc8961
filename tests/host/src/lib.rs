//! The end-to-end host (built in the next issue).
