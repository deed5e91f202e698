//! The AWS Data Pipeline model as dpsim's traces name it: the operations and the error codes
//! the service answers with, and the pipeline objects a definition is made of.

pub(crate) mod error;
pub(crate) mod input;
pub(crate) mod operation;
pub(crate) mod output;
pub(crate) mod queries;
pub(crate) mod shapes;
pub(crate) mod validate;

pub use error::ErrorCode;
pub(crate) use error::ServiceError;
pub(crate) use input::Request;
pub use operation::Operation;
pub(crate) use output::Response;
pub use shapes::{Field, PipelineObject};
