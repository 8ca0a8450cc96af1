package io.tributary.common.input;

/**
 * What an input bus needs committed together with a batch's outputs, when it can commit them in one
 * transaction (Kafka offsets in the output transaction); opaque to the stages, which only hand it to
 * their publisher.
 */
public interface InputCommit {
}
