//! `perftest.probe`, `perftest.session` and `perftest.parse_url`: samples handed to the
//! prober on the I/O threads, and their results as plain tables.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value};

use super::context::Ctx;
use super::convert;
use super::errors::rt;
use super::sample;
use super::verbs::Api;
use crate::probe::{
    CookieJar, ErrorKind, Kept, ProbeError, ProbeRequest, ProbeResult, Scheme, Target,
};

/// Requests made from a URL alone, by URL: a loop on `perftest.probe(url)` parses it once.
/// Parsing a URL into a request (the target, its URI forms and Host header) is most of what a
/// call costs before the sample starts; options given as a table are read every call, since
/// the script may have changed it.
#[derive(Default)]
struct Requests(RefCell<HashMap<String, Arc<ProbeRequest>>>);

/// A script probing more URLs than this without options starts the cache afresh.
const CACHED_URLS: usize = 1024;

impl Requests {
    fn get(&self, url: &str, opts: Option<&Table>) -> Result<Arc<ProbeRequest>, String> {
        if opts.is_some() {
            return convert::request(url, opts, true).map(Arc::new);
        }
        if let Some(req) = self.0.borrow().get(url) {
            return Ok(req.clone());
        }
        let req = Arc::new(convert::request(url, None, true)?);
        let mut cache = self.0.borrow_mut();
        if cache.len() >= CACHED_URLS {
            cache.clear();
        }
        cache.insert(url.to_string(), req.clone());
        Ok(req)
    }
}

/// Registers the probe's verbs.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    let requests = Rc::new(Requests::default());
    api.raising_async(
        lua,
        &api.perftest,
        "probe",
        "perftest.probe: ",
        move |lua, (url, opts): (Value, Option<Value>)| {
            probe(lua, c.clone(), requests.clone(), url, opts)
        },
    )?;
    let c = ctx.clone();
    api.raising(
        lua,
        &api.perftest,
        "session",
        "perftest.session: ",
        move |_, opts: Option<Table>| {
            Ok(Session {
                slot: Default::default(),
                jar: session_cookies(opts.as_ref())?
                    .then(|| Arc::new(std::sync::Mutex::new(CookieJar::new()))),
                thread: c.svc.io.next_thread(),
                ctx: c.clone(),
            })
        },
    )?;
    api.function(lua, "parse_url", parse_url)
}

/// `perftest.probe(url, opts)`: the result table; an error for an invalid request.
async fn probe(
    lua: Lua,
    ctx: Rc<Ctx>,
    requests: Rc<Requests>,
    url: Value,
    opts: Option<Value>,
) -> mlua::Result<Table> {
    let url = super::options::string_or(url, |t| rt(format!("url must be a string, got {t}")))?;
    let opts = match opts {
        None | Some(Value::Nil) => None,
        Some(Value::Table(t)) => Some(t),
        Some(other) => {
            return Err(rt(format!(
                "opts must be a table, got {}",
                other.type_name()
            )));
        }
    };
    let req = requests.get(&url, opts.as_ref()).map_err(rt)?;
    let prober = ctx.svc.prober.clone();
    let shutdown = ctx.svc.shutdown.clone();
    // The sample runs on the I/O workers: a busy script cannot delay its timestamps.
    let joined = ctx
        .svc
        .io
        .spawn(async move { prober.probe_until(&req, shutdown.wait()).await })
        .await;
    let result = joined.unwrap_or_else(|e| {
        let mut r = ProbeResult::new(url.as_str().into());
        r.error = Some(ProbeError::new(
            ErrorKind::Io,
            format!("internal error in the probe of {url}: {e} (please report it)"),
        ));
        r
    });
    ctx.record_sample(&lua, &result);
    sample::result_table(&lua, &result, &ctx.svc.location)
}

/// `perftest.parse_url(url)`: its parts, or nil and the reason.
fn parse_url(lua: &Lua, url: String) -> mlua::Result<(Value, Option<String>)> {
    match Target::parse(&url) {
        Ok(t) => {
            let tbl = lua.create_table()?;
            tbl.set("url", &*t.display)?;
            tbl.set(
                "scheme",
                match t.scheme {
                    Scheme::Http => "http",
                    Scheme::Https => "https",
                },
            )?;
            tbl.set("host", t.host.as_str())?;
            tbl.set("port", t.port)?;
            tbl.set("path", t.path_and_query.as_str())?;
            Ok((Value::Table(tbl), None))
        }
        Err(e) => Ok((Value::Nil, Some(e.0))),
    }
}

/// `perftest.session{ cookies = true }`: whether the session keeps cookies.
fn session_cookies(opts: Option<&Table>) -> mlua::Result<bool> {
    let Some(opts) = opts else { return Ok(false) };
    let mut cookies = false;
    for pair in opts.pairs::<Value, Value>() {
        match pair? {
            (Value::String(k), Value::Boolean(b)) if k == "cookies" => cookies = b,
            (k, v) => {
                return Err(rt(format!(
                    "option {} = {}: the one option is cookies = true or false",
                    k.to_string().unwrap_or_else(|_| k.type_name().into()),
                    v.type_name()
                )));
            }
        }
    }
    Ok(cookies)
}

/// `perftest.session()`: samples over one kept connection per origin (HTTP keep-alive), and
/// with `cookies = true` a cookie jar the probe room keeps (RFC 6265).
struct Session {
    slot: Arc<tokio::sync::Mutex<Option<Kept>>>,
    /// Locked only between awaits, on the session's I/O thread or to list the cookies.
    jar: Option<Arc<std::sync::Mutex<CookieJar>>>,
    thread: usize,
    ctx: Rc<Ctx>,
}

/// The jar, even after a panic elsewhere left its lock poisoned (it holds no invariant).
fn lock(j: &std::sync::Mutex<CookieJar>) -> std::sync::MutexGuard<'_, CookieJar> {
    j.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    fn jar(&self) -> Option<std::sync::MutexGuard<'_, CookieJar>> {
        self.jar.as_deref().map(lock)
    }
}

impl UserData for Session {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // Like perftest.probe, over the session's connection when it can be reused.
        methods.add_async_method(
            "probe",
            |lua, this, (url, opts): (String, Option<Table>)| async move {
                let mut req = convert::request(&url, opts.as_ref(), true)
                    .map_err(|e| rt(format!("session:probe: {e}")))?;
                let svc = &this.ctx.svc;
                let (prober, shutdown, slot, jar) = (
                    svc.prober.clone(),
                    svc.shutdown.clone(),
                    this.slot.clone(),
                    this.jar.clone(),
                );
                let result = svc
                    .io
                    .spawn_on(this.thread, async move {
                        if let Some(j) = &jar {
                            lock(j).add_to(&mut req);
                        }
                        let mut slot = slot.lock().await;
                        let r = prober.probe_kept(&req, &mut slot, shutdown.wait()).await;
                        if let Some(j) = &jar {
                            lock(j).store(&req.target, &r.headers);
                        }
                        r
                    })
                    .await
                    .map_err(|e| rt(format!("session:probe: internal error: {e}")))?;
                this.ctx.record_sample(&lua, &result);
                sample::result_table(&lua, &result, &svc.location)
            },
        );
        // The cookies kept, {name, value, domain, path} each; none without cookies = true.
        methods.add_method("cookies", |lua, this, ()| {
            let list = lua.create_table()?;
            for c in this.jar().map(|j| j.list()).unwrap_or_default() {
                let t = lua.create_table_with_capacity(0, 4)?;
                t.set("name", c.name)?;
                t.set("value", c.value)?;
                t.set("domain", c.domain)?;
                t.set("path", c.path)?;
                list.push(t)?;
            }
            Ok(list)
        });
        // Forgets the cookies (the connection stays).
        methods.add_method("clear_cookies", |_, this, ()| {
            if let Some(mut j) = this.jar() {
                j.clear();
            }
            Ok(())
        });
        // Closes the kept connection; the next probe opens a new one.
        methods.add_async_method("close", |_, this, ()| async move {
            this.slot.lock().await.take();
            Ok(())
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            let cookies = if this.jar.is_some() { ", cookies" } else { "" };
            Ok(format!("session on I/O thread {}{cookies}", this.thread))
        });
    }
}
