//! Data rights and incident response (GDPR Art. 15, 17, 20, 30, 33/34; claims C13, C14, C31):
//! erasure of a contact or a whole tenant ([`erasure`]), and the media objects they leave.

pub mod erasure;
pub mod export;
pub mod import;
pub mod incident;
pub mod retention;
