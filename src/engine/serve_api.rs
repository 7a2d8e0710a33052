//! `perftest.serve`: the web server of [`crate::serve`] (/metrics, /memstats, /healthz),
//! started once per run.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, Value};

use super::context::Ctx;
use super::errors::rt;
use super::remote_write_api;
use super::verbs::Api;

/// Registers `perftest.serve`.
pub fn register(lua: &Lua, api: &Api, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let c = ctx.clone();
    api.raising(lua, &api.perftest, "serve", "", move |_, spec: Value| {
        serve(&c, spec)
    })
}

/// `perftest.serve{port =, listen =, buckets =}`: starts the web server once; returns the
/// address bound.
fn serve(ctx: &Rc<Ctx>, spec: Value) -> mlua::Result<String> {
    let buckets = match &spec {
        Value::Table(t) => remote_write_api::buckets(t.get("buckets")?, "perftest.serve")?,
        _ => None,
    };
    let addr: SocketAddr = match spec {
        Value::Integer(p) => SocketAddr::from((
            [0, 0, 0, 0],
            u16::try_from(p).map_err(|_| rt(format!("perftest.serve: port {p}: 0 to 65535")))?,
        )),
        Value::Table(t) => match (
            t.get::<Option<String>>("listen")?,
            t.get::<Option<i64>>("port")?,
        ) {
            (Some(l), _) => l.parse().map_err(|_| {
                rt(format!(
                    "perftest.serve: listen '{l}': give ADDR:PORT such as 127.0.0.1:9100"
                ))
            })?,
            (None, Some(p)) => SocketAddr::from((
                [0, 0, 0, 0],
                u16::try_from(p)
                    .map_err(|_| rt(format!("perftest.serve: port {p}: 0 to 65535")))?,
            )),
            (None, None) => {
                return Err(rt(
                    "perftest.serve: give port = N or listen = \"ADDR:PORT\"",
                ));
            }
        },
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
