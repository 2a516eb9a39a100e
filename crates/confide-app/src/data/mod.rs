//! Data rights and incident response (GDPR Art. 15, 17, 20, 30, 33/34; claims C13, C14, C31):
//! erasure of a contact or a whole tenant ([`erasure`]), and the media objects they leave; the
//! contact book's export ([`export`]) and the full export ([`tenant_export`]).

pub mod erasure;
pub mod export;
mod export_job;
mod export_pages;
mod export_zip;
pub mod import;
pub mod incident;
pub mod retention;
pub mod tenant_export;
