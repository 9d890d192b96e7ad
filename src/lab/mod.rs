//! `nnopt lab`'s logic, apart from its web server (which lives on the binary's side, behind the
//! `cli` feature, so the library stays free of it): which requests may reach the lab
//! ([`guard`]), how large a run the page may ask for ([`limits`]), which files it reads as a
//! sweep's journal ([`journal`]), and the perceptron's run seen
//! one epoch at a time ([`epoch`]). The lab computes nothing of its own: every number and every
//! sentence it shows comes from the same library calls, or the same `nnopt` command, as the
//! command line's.

pub mod epoch;
pub mod guard;
pub mod journal;
pub mod limits;
