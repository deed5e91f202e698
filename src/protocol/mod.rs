//! The AWS Data Pipeline model: operations, request and response shapes, validation, errors.

pub mod error;
pub mod input;
pub mod operation;
pub mod output;
pub mod queries;
pub mod shapes;
pub mod validate;

pub use error::{ErrorCode, ServiceError};
pub use input::Request;
pub use operation::Operation;
pub use output::Response;
pub use shapes::{Field, PipelineObject};
