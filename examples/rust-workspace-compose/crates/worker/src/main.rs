#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    tracing::info!("worker starting");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
