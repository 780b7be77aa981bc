//! One module per subcommand, named after it: each parses nothing (clap did) and turns its
//! arguments into calls on the library, printing one line and exiting 2 on bad input.

pub mod bench;
pub mod bot_audit;
pub mod check_audit;
pub mod demo;
pub mod fuzz;
pub mod fuzz_stack;
pub mod live;
pub mod recover;
pub mod report;
pub mod run;
pub mod tape;
pub mod venue;
