//! turmoil 0.7.2's tests of `turmoil::net`, kept for the TCP that dpsim's fork keeps (its UDP
//! is gone), so that a change to the fork is checked against upstream's own expectations.

use dpsim_turmoil as turmoil;

mod tcp;

use std::net::SocketAddr;

use turmoil::{Builder, Result};

#[test]
fn lookup_host() -> Result {
    let mut sim = Builder::new().build();
    sim.host("host", || async { Ok(()) });

    sim.client("client", async {
        let result = turmoil::net::lookup_host("host:1234").await;
        let addrs: Vec<_> = result.unwrap().collect();
        let expected = SocketAddr::from((turmoil::lookup("host"), 1234));
        assert_eq!(addrs, [expected]);

        let result = turmoil::net::lookup_host("bogus:1234").await;
        assert!(result.is_err());

        let result = turmoil::net::lookup_host("port_missing").await;
        assert!(result.is_err());

        Ok(())
    });

    sim.run()
}
