//! Meta's limits on outbound bodies, in characters (Unicode scalar values).
//!
//! Text, caption and reply-button limits are from whatsapp-cloud-api.md §2; the list-message limits
//! are from Meta's interactive-message reference.

pub const MAX_TEXT_BODY: usize = 4096;
pub const MAX_CAPTION: usize = 1024;
pub const MAX_FILENAME: usize = 240;
pub const MAX_REPLY_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_BUTTON_ID: usize = 256;
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_INTERACTIVE_HEADER: usize = 60;
pub const MAX_INTERACTIVE_FOOTER: usize = 60;
pub const MAX_LIST_BUTTON: usize = 20;
pub const MAX_LIST_SECTIONS: usize = 10;
pub const MAX_LIST_ROWS: usize = 10;
pub const MAX_SECTION_TITLE: usize = 24;
pub const MAX_ROW_ID: usize = 200;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_TEMPLATE_NAME: usize = 512;
pub const MAX_TEMPLATE_TEXT_PARAM: usize = 32_768;
pub const MAX_CALLBACK_DATA: usize = 512;
