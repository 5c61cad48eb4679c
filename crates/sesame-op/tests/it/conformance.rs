use std::sync::Arc;

#[tokio::test]
async fn memory_store_conforms() {
    sesame_op::store::conformance::run(Arc::new(sesame_op::MemoryStore::new())).await;
}
