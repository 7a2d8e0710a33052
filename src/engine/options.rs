//! Option tables (`perftest.probe`'s opts, `perftest.load{...}`, `perftest.cloudwatch{...}`,
//! `perftest.remote_write{...}`, `perftest.session{...}`) read into serde structs: a struct's
//! fields are the keys its verb takes, `deny_unknown_fields` turns any other into one error
//! naming the known ones, and the field types below say how a Lua value reads (a number may
//! come as text, as Lua's own arithmetic allows). Range checks come after parsing, where the
//! options become a request or a spec.
//!
//! The table is walked once, pair by pair, by a map reader of our own rather than
//! `lua.from_value`: that one reports a bad value without its key, and reads a table's
//! integer keys as field indexes.

use std::cell::RefCell;
use std::fmt;

use mlua::{Table, Value};
use serde::Deserialize;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Unexpected, Visitor};

/// Reads `table` as `T`. A bad value's error names its key as `{prefix}{key}` (`opts.timeout`);
/// an unknown key's error lists the known ones.
pub fn parse<T: DeserializeOwned>(table: &Table, prefix: &str) -> Result<T, String> {
    T::deserialize(TableReader {
        pairs: table.pairs::<Value, Value>(),
        prefix,
        key: None,
        value: None,
        known: &[],
    })
    .map_err(|e| e.0)
}

/// The keys `T` takes, in the order its struct declares them.
pub fn keys<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    impl<'de> de::Deserializer<'de> for &mut Fields {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error("not a struct".into()))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            self.0 = Some(fields);
            Err(Error("fields read".into()))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut f = Fields(None);
    let _ = T::deserialize(&mut f);
    f.0.unwrap_or(&[])
}

/// A Lua string's text, or the error `err` makes of the value's type name: a verb's key or
/// argument that must be a name.
pub fn string_or<E>(v: Value, err: impl FnOnce(&str) -> E) -> Result<String, E> {
    match v {
        Value::String(s) => Ok(s.to_string_lossy()),
        other => Err(err(other.type_name())),
    }
}

/// An option error, as one line.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let got = match unexp {
            Unexpected::Bool(_) => "boolean".to_string(),
            Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => {
                "number".to_string()
            }
            Unexpected::Str(_) | Unexpected::Char(_) => "string".to_string(),
            Unexpected::Map | Unexpected::Seq => "table".to_string(),
            Unexpected::Unit => "nil".to_string(),
            Unexpected::Other(what) => what.to_string(),
            other => other.to_string(),
        };
        Error(format!("must be {exp}, got {got}"))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error(format!(
            "unknown option '{field}' (known: {})",
            expected.join(", ")
        ))
    }
}

/// The table as a map of its pairs.
struct TableReader<'a> {
    pairs: mlua::table::TablePairs<'a, Value, Value>,
    prefix: &'a str,
    /// The key just read and its value.
    key: Option<mlua::LuaString>,
    value: Option<Value>,
    known: &'static [&'static str],
}

impl<'de> de::Deserializer<'de> for TableReader<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.known = fields;
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

impl<'de> de::MapAccess<'de> for TableReader<'_> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(pair) = self.pairs.next() else {
            return Ok(None);
        };
        let (key, value) = pair.map_err(|e| Error(e.to_string()))?;
        let Value::String(key) = key else {
            return Err(Error(format!(
                "{} keys are names, got a {} key (known: {})",
                self.prefix.trim_end_matches(['.', ' ', ':']).trim(),
                key.type_name(),
                self.known.join(", ")
            )));
        };
        self.value = Some(value);
        // Borrowed where the name is UTF-8 (it always is in practice): no copy per key.
        let field = match key.to_str() {
            Ok(name) => seed.deserialize(StrDeserializer::<Error>::new(&name)),
            Err(_) => seed.deserialize(StrDeserializer::<Error>::new(&key.to_string_lossy())),
        };
        self.key = Some(key);
        field.map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().unwrap_or(Value::Nil);
        seed.deserialize(ValueReader(value)).map_err(|e| {
            let key = self
                .key
                .as_ref()
                .map(|k| k.to_string_lossy())
                .unwrap_or_default();
            Error(format!("{}{key} {}", self.prefix, e.0))
        })
    }
}

/// One option's value. Tables are not walked: a field that takes one is a [`Raw`], read by
/// its verb's own code.
struct ValueReader(Value);

/// The name [`Raw`] asks for, so that [`ValueReader`] hands the value over as it is.
const RAW: &str = "$perftest::options::Raw";

thread_local! {
    // The value on its way from ValueReader to Raw's visitor: serde has no way to carry a
    // value that is not data.
    static HANDED: RefCell<Option<Value>> = const { RefCell::new(None) };
}

impl<'de> de::Deserializer<'de> for ValueReader {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Nil => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Number(n) => visitor.visit_f64(n),
            Value::String(s) => match s.to_str() {
                Ok(text) => visitor.visit_str(&text),
                Err(_) => visitor.visit_string(s.to_string_lossy()),
            },
            Value::Table(_) => Err(de::Error::invalid_type(Unexpected::Map, &visitor)),
            other => Err(de::Error::invalid_type(
                Unexpected::Other(other.type_name()),
                &visitor,
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == RAW {
            HANDED.with(|h| *h.borrow_mut() = Some(self.0));
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// A value its verb reads itself (a table of headers, a JSON body, a function).
#[derive(Debug, Clone)]
pub struct Raw(pub Value);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Handed;
        impl Visitor<'_> for Handed {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Lua value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
                HANDED
                    .with(|h| h.borrow_mut().take())
                    .map(Raw)
                    .ok_or_else(|| E::custom("a Lua value read outside an option table"))
            }
        }
        d.deserialize_newtype_struct(RAW, Handed)
    }
}

/// The Deserialize of an option type: what it expects (for the error) and the Lua values it
/// takes, one `visit_*` each; any other value is "must be EXPECTED, got TYPE".
macro_rules! reads {
    ($ty:ident, $expecting:literal, $($visit:item),* $(,)?) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    $($visit)*
                }
                d.deserialize_any(V)
            }
        }
    };
}

/// Text: a string, or a number written as Lua's `tostring` would.
#[derive(Debug, Clone)]
pub struct Text(pub String);

reads!(
    Text,
    "a string",
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
        Ok(Text(s.to_string()))
    },
    fn visit_string<E: de::Error>(self, s: String) -> Result<Text, E> {
        Ok(Text(s))
    },
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Text, E> {
        Ok(Text(i.to_string()))
    },
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text, E> {
        Ok(Text(n.to_string()))
    }
);

/// A number, or text that reads as one (`"2.5"`).
#[derive(Debug, Clone, Copy)]
pub struct Number(pub f64);

reads!(
    Number,
    "a number",
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Number, E> {
        Ok(Number(i as f64))
    },
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Number, E> {
        Ok(Number(n))
    },
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Number, E> {
        s.trim()
            .parse()
            .map(Number)
            .map_err(|_| E::custom(format!("must be a number, got '{s}'")))
    }
);

impl Number {
    /// The number as a count: whole and not below 0.
    pub fn whole(self) -> Option<u64> {
        (self.0 >= 0.0 && self.0.fract() == 0.0 && self.0 <= u64::MAX as f64)
            .then_some(self.0 as u64)
    }
}

/// A count option (`requests`, `max_pending`) if given; the error names it as `key`.
pub fn count(n: Option<Number>, key: &str) -> Result<Option<u64>, String> {
    n.map(|n| {
        n.whole()
            .ok_or_else(|| format!("{key} {}: give a whole number", crate::probe::shown(n.0)))
    })
    .transpose()
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy)]
pub struct Flag(pub bool);

reads!(
    Flag,
    "true or false",
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Flag, E> {
        Ok(Flag(b))
    }
);

/// `true`, `false` or a number (`follow_redirects = 3`, `keep_body = 4096`).
#[derive(Debug, Clone, Copy)]
pub enum FlagOrNumber {
    Flag(bool),
    Number(f64),
}

reads!(
    FlagOrNumber,
    "true, false or a number",
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<FlagOrNumber, E> {
        Ok(FlagOrNumber::Flag(b))
    },
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<FlagOrNumber, E> {
        Ok(FlagOrNumber::Number(i as f64))
    },
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<FlagOrNumber, E> {
        Ok(FlagOrNumber::Number(n))
    },
    fn visit_str<E: de::Error>(self, s: &str) -> Result<FlagOrNumber, E> {
        Number::deserialize(s.into_deserializer()).map(|n| FlagOrNumber::Number(n.0))
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Opts {
        name: Option<Text>,
        rate: Option<Number>,
        on: Option<Flag>,
        fn_: Option<Raw>,
    }

    fn parse_src(src: &str) -> Result<Opts, String> {
        let lua = mlua::Lua::new();
        let t: Table = lua.load(src).eval().expect("a table");
        parse(&t, "opts.")
    }

    #[test]
    fn values_read_as_lua_would_and_errors_name_the_key() {
        let o = parse_src("{ name = 5, rate = ' 2.5 ', on = true }").unwrap();
        assert_eq!(o.name.unwrap().0, "5");
        assert_eq!(o.rate.unwrap().0, 2.5);
        assert!(o.on.unwrap().0);
        assert!(o.fn_.is_none());
        let known = "(known: name, rate, on, fn_)";
        for (src, error) in [
            (
                "{ on = 'yes' }",
                "opts.on must be true or false, got string".to_string(),
            ),
            (
                "{ rate = 'fast' }",
                "opts.rate must be a number, got 'fast'".into(),
            ),
            (
                "{ name = {} }",
                "opts.name must be a string, got table".into(),
            ),
            ("{ nmae = 1 }", format!("unknown option 'nmae' {known}")),
            (
                "{ 1 }",
                format!("opts keys are names, got a integer key {known}"),
            ),
        ] {
            assert_eq!(parse_src(src).unwrap_err(), error, "{src}");
        }
    }

    #[test]
    fn a_lua_field_gets_the_value_itself() {
        let o = parse_src("{ fn_ = function() end }").unwrap();
        assert!(matches!(o.fn_, Some(Raw(Value::Function(_)))));
        assert_eq!(keys::<Opts>(), ["name", "rate", "on", "fn_"]);
    }
}
