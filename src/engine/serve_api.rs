//! `perftest.serve`: the web server of [`crate::serve`] (/metrics, /memstats, /healthz),
//! started once per run.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, Value};
use serde::Deserialize;

use super::context::Ctx;
use super::errors::rt;
use super::options::{self, Number, Raw, Text};
use super::remote_write_api;
use super::verbs::Api;

/// Registers `perftest.serve`.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.raising(lua, &api.perftest, "serve", "", move |_, spec: Value| {
        serve(&c, spec)
    })
}

/// `perftest.serve{...}`: every key it takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeOptions {
    port: Option<Number>,
    listen: Option<Text>,
    buckets: Option<Raw>,
}

/// `perftest.serve{port =, listen =, buckets =}`: starts the web server once; returns the
/// address bound.
fn serve(ctx: &Rc<Ctx>, spec: Value) -> mlua::Result<String> {
    let port =
        |p: i64| u16::try_from(p).map_err(|_| rt(format!("perftest.serve: port {p}: 0 to 65535")));
    let mut buckets = None;
    let addr: SocketAddr = match spec {
        Value::Integer(p) => SocketAddr::from(([0, 0, 0, 0], port(p)?)),
        Value::Table(t) => {
            let o: ServeOptions =
                options::parse(&t, "").map_err(|e| rt(format!("perftest.serve: {e}")))?;
            buckets = remote_write_api::buckets(
                o.buckets.map_or(Value::Nil, |Raw(v)| v),
                "perftest.serve",
            )?;
            match (o.listen, o.port) {
                (Some(Text(l)), _) => l.parse().map_err(|_| {
                    rt(format!(
                        "perftest.serve: listen '{l}': give ADDR:PORT such as 127.0.0.1:9100"
                    ))
                })?,
                (None, Some(Number(p))) => match Number(p).whole().map(u16::try_from) {
                    Some(Ok(p)) => SocketAddr::from(([0, 0, 0, 0], p)),
                    _ => {
                        return Err(rt(format!(
                            "perftest.serve: port {}: 0 to 65535",
                            crate::probe::shown(p)
                        )));
                    }
                },
                (None, None) => {
                    return Err(rt(
                        "perftest.serve: give port = N or listen = \"ADDR:PORT\"",
                    ));
                }
            }
        }
        other => {
            return Err(rt(format!(
                "perftest.serve: give a port or {{listen = \"ADDR:PORT\"}}, got {}",
                other.type_name()
            )));
        }
    };
    if ctx.run.serving.get() {
        return Err(rt("perftest.serve: the web server is already running"));
    }
    let metrics = remote_write_api::registry(ctx, buckets, "perftest.serve")?;
    let pages = Arc::new(crate::serve::Pages {
        figures: ctx.svc.figures.clone(),
        metrics: metrics.clone(),
    });
    let bound = crate::serve::start(addr, pages, ctx.svc.io.first())
        .map_err(|e| rt(format!("perftest.serve: cannot listen on {addr}: {e}")))?;
    ctx.run.serving.set(true);
    Ok(bound.to_string())
}
