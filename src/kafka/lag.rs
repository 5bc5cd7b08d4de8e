//! A consumer's lag from what librdkafka already knows: the high watermark each fetch
//! response carried, minus the consumer's position. No request goes to the brokers, so a
//! task loop can ask often.

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::Offset;

/// The high watermark librdkafka last saw for a partition, if it has seen one.
fn cached_high_watermark<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is live for the call, the topic name is NUL-terminated and
    // outlives it, and the two out-pointers point at initialised i64s.
    let code = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}

/// Records in the consumer's assigned partitions that it has not read yet, summed; partitions
/// without a known position or high watermark yet count as 0. None without an assignment.
pub fn consumer_lag<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> Option<i64> {
    let positions = consumer.position().ok()?;
    if positions.count() == 0 {
        return None;
    }
    let lag = positions
        .elements()
        .iter()
        .filter_map(|e| {
            let Offset::Offset(position) = e.offset() else {
                return None;
            };
            let high = cached_high_watermark(consumer, e.topic(), e.partition())?;
            Some((high - position).max(0))
        })
        .sum();
    Some(lag)
}
