//! Configuration: written by a helper.
