//! `perftest.spawn`: Lua functions running as concurrent local tasks, and `task:join()`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::{Function, Lua, MetaMethod, MultiValue, UserData, UserDataMethods, Value};
use tokio::sync::Notify;

use super::context::Ctx;
use super::errors::{describe, exit_request};

/// Live tasks of a run, so the run can wait for all of them.
#[derive(Default)]
pub struct Tasks {
    live: Cell<usize>,
    next_id: Cell<usize>,
    idle: Notify,
}

impl Tasks {
    fn start(&self) -> usize {
        self.live.set(self.live.get() + 1);
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        id
    }

    fn end(&self) {
        self.live.set(self.live.get() - 1);
        if self.live.get() == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Completes when no task is left running.
    pub async fn all_done(&self) {
        while self.live.get() > 0 {
            self.idle.notified().await;
        }
    }
}

#[derive(Default)]
struct TaskState {
    result: RefCell<Option<mlua::Result<MultiValue>>>,
    done: Notify,
    joining: Cell<bool>,
    reported: Cell<bool>,
}

/// A handle on a spawned task (wrapped by the Lua prelude's `Task`).
pub struct Task {
    id: usize,
    state: Rc<TaskState>,
    ctx: Rc<Ctx>,
}

impl UserData for Task {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // Waits for the task: `true, values...`, or `false, "file:line: cause"`; the prelude
        // turns the failure into a plain string error that pcall can read.
        methods.add_async_method("join", |lua, this, ()| async move {
            let state = this.state.clone();
            state.joining.set(true);
            while state.result.borrow().is_none() {
                state.done.notified().await;
            }
            let result = state.result.borrow().clone().expect("checked above");
            let mut out = MultiValue::new();
            match result {
                Ok(values) => {
                    out.push_back(Value::Boolean(true));
                    out.extend(values);
                }
                // perftest.exit in the task ends the joiner too, not as an error of its own.
                Err(e) if exit_request(&e).is_some() => return Err(e),
                Err(e) => {
                    if state.reported.replace(false) {
                        // The joiner takes charge of the error it receives.
                        let failures = &this.ctx.run.unjoined_failures;
                        failures.set(failures.get().saturating_sub(1));
                    }
                    out.push_back(Value::Boolean(false));
                    out.push_back(Value::String(lua.create_string(describe(&e))?));
                }
            }
            Ok(out)
        });
        methods.add_method("done", |_, this, ()| {
            Ok(this.state.result.borrow().is_some())
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            let status = match &*this.state.result.borrow() {
                None => "running",
                Some(Ok(_)) => "done",
                Some(Err(_)) => "failed",
            };
            Ok(format!("task {} ({status})", this.id))
        });
    }
}

/// Starts `f(args...)` as a task on the current local set.
pub fn spawn(lua: &Lua, ctx: &Rc<Ctx>, f: Function, args: MultiValue) -> mlua::Result<Task> {
    let run = call_caught(lua, f, args)?;
    let id = ctx.run.tasks.start();
    ctx.svc
        .figures
        .tasks_alive
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let state = Rc::new(TaskState::default());
    let (st, c) = (state.clone(), ctx.clone());
    tokio::task::spawn_local(async move {
        let result = run.await;
        if let Err(e) = &result {
            if let Some(code) = exit_request(e) {
                c.request_exit(code);
            } else if !st.joining.get() {
                // Nobody is waiting for this task: say so now, the others go on.
                c.report_error(&format!("task {id}"), e);
                let failures = &c.run.unjoined_failures;
                failures.set(failures.get() + 1);
                st.reported.set(true);
            }
        }
        *st.result.borrow_mut() = Some(result);
        st.done.notify_waiters();
        c.svc
            .figures
            .tasks_alive
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        c.run.tasks.end();
    });
    Ok(Task {
        id,
        state,
        ctx: ctx.clone(),
    })
}

/// Calls `f(args...)` as a coroutine of its own. A panic under it (a bug in perftest) ends
/// this call alone, as an error naming the Lua line it came from; the other tasks go on.
pub fn call_caught(
    lua: &Lua,
    f: Function,
    args: MultiValue,
) -> mlua::Result<impl std::future::Future<Output = mlua::Result<MultiValue>> + use<>> {
    let thread = lua.create_thread(f)?;
    let run = crate::panics::caught(thread.clone().into_async::<MultiValue>(args)?);
    Ok(async move {
        let at = || super::errors::lua_line_of(&thread);
        match run.await {
            Ok(Ok(values)) => Ok(values),
            // error({}) carries no line: the failed coroutine's stack still has it.
            Ok(Err(e)) if super::errors::raised_without_message(&e) => match at() {
                Some(at) => mlua::ErrorContext::context(Err(e), at),
                None => Err(e),
            },
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(mlua::Error::runtime(format!(
                "{}internal error: {panic} (please report it)",
                at().map(|at| format!("{at}: ")).unwrap_or_default()
            ))),
        }
    })
}

/// Formats an error for stderr, with its traceback when verbose.
pub fn error_text(what: &str, e: &mlua::Error, verbose: bool) -> String {
    let mut text = format!("perftest: {what}: {}", describe(e));
    if verbose && let Some(tb) = super::errors::traceback(e) {
        text.push('\n');
        text.push_str(&tb);
    }
    text
}

/// Formats the main chunk's error: `perftest: file:line: cause`.
pub fn error_text_main(e: &mlua::Error, verbose: bool) -> String {
    let mut text = format!("perftest: {}", describe(e));
    if verbose && let Some(tb) = super::errors::traceback(e) {
        text.push('\n');
        text.push_str(&tb);
    }
    text
}
