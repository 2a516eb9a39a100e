//! The pages without a browser: their headers, the redirects of signed-out visitors, and the
//! cross-site checks of every form POST.
