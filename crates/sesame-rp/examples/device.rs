//! Sign a command-line program in with the device flow (RFC 8628).
//!
//! ```text
//! sesame clients add --name "My CLI" --public \
//!     --grant-type urn:ietf:params:oauth:grant-type:device_code --json
//! cargo run -p sesame-rp --example device -- http://127.0.0.1:8080 CLIENT_ID [SECRET]
//! ```
//!
//! It prints the code and the page to enter it at, waits for the user to
//! allow it there (honouring the provider's `interval` and `slow_down`), and
//! prints who signed in. The tokens are never printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use sesame_rp::{ClientAuth, DeviceAuthorization, OidcClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(issuer), Some(client_id)) = (args.next(), args.next()) else {
        eprintln!("usage: device ISSUER CLIENT_ID [CLIENT_SECRET]");
        std::process::exit(2);
    };
    let mut builder = OidcClient::builder(issuer.parse()?, client_id).for_device_flow();
    builder = match args.next() {
        Some(secret) => builder.with_client_secret(secret),
        None => builder.with_auth_method(ClientAuth::None),
    };
    let client = builder.build().await?;

    let mut device = DeviceAuthorization::start(&client, "openid profile").await?;
    println!(
        "To sign in, open {} and enter the code {}",
        device.verification_uri(),
        device.user_code()
    );
    if let Some(direct) = device.verification_uri_complete() {
        println!("(or open {direct})");
    }
    let tokens = device.poll().await?;
    let who = tokens
        .id_token
        .as_ref()
        .map_or("(no ID token)", |t| t.claims.sub.as_str());
    println!("Signed in as {who}.");
    Ok(())
}
