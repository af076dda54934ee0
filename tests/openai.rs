//! The OpenAI-compatible agent: its stream parser, the runtime against the
//! scripted loopback chat server, and `corral run --agent openai`.
//!
//! One test binary for these (fewer binaries link faster); each file below
//! tests/openai/ is a module with its own header.

#[path = "openai/cli.rs"]
mod cli;
#[path = "support/http.rs"]
mod http;
#[path = "support/openai_mock.rs"]
mod openai_mock;
#[path = "openai/runtime.rs"]
mod runtime;
#[path = "support/scripted.rs"]
mod scripted;
#[path = "openai/sse.rs"]
mod sse;
