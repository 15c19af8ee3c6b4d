//! What the server does with a request, above the transport: stages that
//! each own what they need (see [`stages`] for the order).

mod admit;
mod deliver;
mod intake;
mod order;
mod per_address;
mod stages;

pub(crate) use stages::Pipeline;
