//! Integration tests, one module per area.
mod audit;
mod cli;
mod criteria;
mod router;
mod sim;
mod world;
