//! A real browser for the web tests: Debian's headless Chromium, driven through `chromedriver`
//! with fantoccini, against the test app served on a loopback port.
//!
//! The browser tests run when `CONFIDE_TEST_CHROMIUM` is set (`.ci/run` sets it, installs
//! Chromium and checks they ran); otherwise each prints that it was skipped.

use crate::harness::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a test waits for something to show up in the page (live updates, navigation).
pub const WAIT: Duration = Duration::from_secs(30);

/// One browser test at a time: each runs a Chromium, and the machine has two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// When the browser tests run (`CONFIDE_TEST_CHROMIUM` is set), waits for this test's turn
/// and returns it (held for the test); otherwise prints why the test is skipped.
pub async fn enabled(test: &str) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if std::env::var_os("CONFIDE_TEST_CHROMIUM").is_some_and(|v| !v.is_empty()) {
        return Some(ONE_AT_A_TIME.lock().await);
    }
    println!(
        "{test}: skipped: set CONFIDE_TEST_CHROMIUM=1 (with chromium and chromium-driver installed) to run the browser tests"
    );
    None
}

/// The test app on a real socket, as a browser reaches it.
pub struct Served {
    pub base: String,
    _task: tokio::task::JoinHandle<()>,
}

pub async fn serve(app: &TestApp) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Served {
        base: format!("http://{addr}"),
        _task: task,
    }
}

/// A headless Chromium session (its chromedriver is ended with it).
pub struct Browser {
    pub client: Client,
    pub base: String,
    _driver: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a Chromium of `width`×`height` CSS pixels.
    pub async fn start(served: &Served, width: u32, height: u32) -> Browser {
        let port = free_port();
        let mut driver = Command::new(
            std::env::var("CONFIDE_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        )
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver (apt-get install chromium-driver)");
        // It says so on stdout once it listens.
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        loop {
            let line = tokio::time::timeout(WAIT, lines.next_line())
                .await
                .expect("chromedriver did not start")
                .unwrap()
                .expect("chromedriver exited");
            if line.contains("started successfully") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let binary =
            std::env::var("CONFIDE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": binary,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
                    "--force-device-scale-factor=1", "--lang=en-US",
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        // The window size includes no browser chrome in headless mode; make the viewport exact.
        let _ = client.set_window_size(width, height).await;
        Browser {
            client,
            base: served.base.clone(),
            _driver: driver,
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The path of the current page.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        let mut p = url.path().to_string();
        if let Some(q) = url.query() {
            p.push('?');
            p.push_str(q);
        }
        p
    }

    /// Waits for an element (CSS selector) to be in the page.
    pub async fn wait_css(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Waits until the script returns true.
    pub async fn wait_js(&self, what: &str, script: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.client.execute(script, vec![]).await.unwrap();
            if v == Value::Bool(true) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = self
                    .client
                    .execute(
                        "return document.body ? document.body.innerText : '';",
                        vec![],
                    )
                    .await;
                panic!("waited {WAIT:?} for {what}: at {url:?}, showing {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the text of `css` contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        let script = format!(
            "var e = document.querySelector({}); return !!e && e.textContent.indexOf({}) !== -1;",
            json!(css),
            json!(text)
        );
        self.wait_js(&format!("{text:?} in {css}"), &script).await;
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.wait_css(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.wait_css(css).await.click().await.unwrap();
    }

    /// Clicks the conversation in the list whose name contains `name`.
    pub async fn open_conversation(&self, name: &str) {
        let xpath = format!("//a[@data-conv][.//span[contains(., {})]]", json!(name));
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no conversation with {name}: {e}"))
            .click()
            .await
            .unwrap();
        self.wait_css("#thread").await;
    }

    /// Presses a key where the focus is (a real key press, through WebDriver actions).
    pub async fn press(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// The id of the focused element.
    pub async fn focused(&self) -> String {
        self.js("return document.activeElement ? document.activeElement.id : '';")
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_css(css).await.text().await.unwrap()
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/sign-in").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("button[type=submit]").await;
        self.wait_js(
            "leaving the sign-in page",
            "return location.pathname !== '/sign-in' && document.readyState === 'complete';",
        )
        .await;
    }

    /// Every URL the current page loaded: itself and each resource (Resource Timing).
    pub async fn requests(&self) -> Vec<String> {
        let v = self
            .js("return [location.href].concat(performance.getEntriesByType('resource').map(function (e) { return e.name; }));")
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    /// Asserts the current page made no request to another origin.
    pub async fn assert_same_origin(&self) -> usize {
        let all = self.requests().await;
        for url in &all {
            assert!(
                url.starts_with(&format!("{}/", self.base)),
                "a request to another origin: {url} (all: {all:?})"
            );
        }
        all.len()
    }

    /// Asserts no script ran from page content: no dialog is open and no marker exists.
    pub async fn assert_no_script_ran(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("a dialog opened: {text}");
        }
        let marker = self
            .js("return document.querySelector('[data-xss], #xss-marker') !== null || window.__xss === true || document.documentElement.hasAttribute('data-xss') || document.body.hasAttribute('data-xss');")
            .await;
        assert_eq!(marker, Value::Bool(false), "a script from page content ran");
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.unwrap()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
