//! Integration tests, one module per area.
mod audit;
mod cli;
mod common;
mod criteria;
mod fuzz;
mod hardening;
mod live;
mod policy;
mod props;
mod recovery;
mod report;
mod router;
mod sim;
mod venue;
mod venue_http;
mod venue_record;
mod world;
