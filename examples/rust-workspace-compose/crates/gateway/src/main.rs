#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    tracing::info!("gateway starting");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
