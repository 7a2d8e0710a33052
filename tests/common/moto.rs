//! moto's server as CloudWatch: started on a loopback port reserved for it, read back with the
//! SDK.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto_server.
pub struct Moto {
    child: Option<Child>,
    pub port: u16,
    /// Holds the port from start to drop, moto stopped or not: while moto is down its port
    /// refuses connections, and no other test's server can be given it meanwhile.
    _holder: socket2::Socket,
}

fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("PERFTEST_MOTO_SERVER") {
        return p.into();
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/moto_server");
    assert!(
        p.exists(),
        "{} is missing: run tests/setup-deps.sh (make test does it first)",
        p.display()
    );
    p
}

impl Moto {
    /// Starts moto on a port of its own and waits until it answers.
    pub fn start() -> Moto {
        let holder = super::reserved_port();
        let port = holder.local_addr().unwrap().as_socket().unwrap().port();
        let mut moto = Moto {
            child: None,
            port,
            _holder: holder,
        };
        moto.restart();
        moto
    }

    /// Starts moto again on its port after a [`Moto::stop`] (with no data).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "moto is running");
        let port = self.port;
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        self.child = Some(child);
        // The port is held for moto alone: the first connection accepted is moto's.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment perftest needs to publish here: nothing reaches beyond this machine.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ]
    }

    /// Kills moto (its data goes with it).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn client(&self) -> aws_sdk_cloudwatch::Client {
        use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let conf = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .http_client(http)
            .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }

    /// Every metric in `namespace`: name and sorted dimensions, without repeats.
    pub fn metrics(&self, namespace: &str) -> Vec<(String, Vec<(String, String)>)> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let out = self
                .client()
                .list_metrics()
                .namespace(namespace)
                .send()
                .await
                .expect("list_metrics");
            let mut v: Vec<(String, Vec<(String, String)>)> = out
                .metrics()
                .iter()
                .map(|m| {
                    let mut d: Vec<(String, String)> = m
                        .dimensions()
                        .iter()
                        .map(|d| {
                            (
                                d.name().unwrap_or_default().to_string(),
                                d.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    d.sort();
                    (m.metric_name().unwrap_or_default().to_string(), d)
                })
                .collect();
            v.sort();
            v.dedup();
            v
        })
    }

    /// SampleCount, Sum, Minimum, Maximum of a metric over the last hour (all periods added).
    pub fn statistics(
        &self,
        namespace: &str,
        metric: &str,
        dims: &[(&str, &str)],
    ) -> (f64, f64, f64, f64) {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let now = std::time::SystemTime::now();
            let mut req = self
                .client()
                .get_metric_statistics()
                .namespace(namespace)
                .metric_name(metric)
                .start_time(DateTime::from(now - Duration::from_secs(3600)))
                .end_time(DateTime::from(now + Duration::from_secs(600)))
                .period(60);
            for s in [
                Statistic::SampleCount,
                Statistic::Sum,
                Statistic::Minimum,
                Statistic::Maximum,
            ] {
                req = req.statistics(s);
            }
            for (k, v) in dims {
                req = req.dimensions(Dimension::builder().name(*k).value(*v).build());
            }
            let out = req.send().await.expect("get_metric_statistics");
            let (mut n, mut sum, mut min, mut max) = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
            for d in out.datapoints() {
                n += d.sample_count().unwrap_or(0.0);
                sum += d.sum().unwrap_or(0.0);
                min = min.min(d.minimum().unwrap_or(f64::INFINITY));
                max = max.max(d.maximum().unwrap_or(f64::NEG_INFINITY));
            }
            (n, sum, min, max)
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
