//! AWS error codes the service answers with, and the error value the core returns.

use std::fmt;

/// Every error code a Data Pipeline endpoint (or the AWS JSON 1.1 front door) can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ErrorCode {
    /// Modelled: the service failed (HTTP 500); clients retry it.
    InternalServiceError,
    /// Modelled: a member violates its constraints or the request makes no sense now.
    InvalidRequestException,
    /// Modelled: the pipeline id is unknown.
    PipelineNotFoundException,
    /// Modelled: the pipeline was deleted.
    PipelineDeletedException,
    /// Modelled: the taskId is unknown or no longer names a live lease.
    TaskNotFoundException,
    /// Protocol: the body is not JSON or a member has the wrong type.
    SerializationException,
    /// Protocol: the `X-Amz-Target` header is missing or names no operation.
    UnknownOperationException,
    /// Protocol: no `Authorization` header while signatures are checked.
    MissingAuthenticationTokenException,
    /// Protocol: a malformed SigV4 `Authorization` header.
    IncompleteSignatureException,
    /// Protocol: the signature does not match, or the request time is too far off.
    InvalidSignatureException,
    /// Protocol: the access key is unknown.
    UnrecognizedClientException,
    /// Protocol: the caller exceeded a rate limit.
    ThrottlingException,
}

impl ErrorCode {
    /// All codes, in declaration order.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InternalServiceError,
        ErrorCode::InvalidRequestException,
        ErrorCode::PipelineNotFoundException,
        ErrorCode::PipelineDeletedException,
        ErrorCode::TaskNotFoundException,
        ErrorCode::SerializationException,
        ErrorCode::UnknownOperationException,
        ErrorCode::MissingAuthenticationTokenException,
        ErrorCode::IncompleteSignatureException,
        ErrorCode::InvalidSignatureException,
        ErrorCode::UnrecognizedClientException,
        ErrorCode::ThrottlingException,
    ];

    /// The `__type` string clients read.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InternalServiceError => "InternalServiceError",
            ErrorCode::InvalidRequestException => "InvalidRequestException",
            ErrorCode::PipelineNotFoundException => "PipelineNotFoundException",
            ErrorCode::PipelineDeletedException => "PipelineDeletedException",
            ErrorCode::TaskNotFoundException => "TaskNotFoundException",
            ErrorCode::SerializationException => "SerializationException",
            ErrorCode::UnknownOperationException => "UnknownOperationException",
            ErrorCode::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            ErrorCode::IncompleteSignatureException => "IncompleteSignatureException",
            ErrorCode::InvalidSignatureException => "InvalidSignatureException",
            ErrorCode::UnrecognizedClientException => "UnrecognizedClientException",
            ErrorCode::ThrottlingException => "ThrottlingException",
        }
    }

    /// The HTTP status AWS answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InternalServiceError => 500,
            _ => 400,
        }
    }

    /// Looks a code up by its `__type` string.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AWS error: a code and a message for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// The error code (`__type`).
    pub code: ErrorCode,
    /// The human-readable message.
    pub message: String,
}

impl ServiceError {
    /// Builds an error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError { code, message: message.into() }
    }

    /// An InvalidRequestException.
    pub fn invalid(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorCode::InvalidRequestException, message)
    }

    /// A PipelineNotFoundException for the given id.
    pub fn pipeline_not_found(pipeline_id: &str) -> Self {
        ServiceError::new(ErrorCode::PipelineNotFoundException, format!("Pipeline {pipeline_id} not found"))
    }

    /// A PipelineDeletedException for the given id.
    pub fn pipeline_deleted(pipeline_id: &str) -> Self {
        ServiceError::new(ErrorCode::PipelineDeletedException, format!("Pipeline {pipeline_id} has been deleted"))
    }

    /// A TaskNotFoundException with the given reason.
    pub fn task_not_found(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorCode::TaskNotFoundException, message)
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}
