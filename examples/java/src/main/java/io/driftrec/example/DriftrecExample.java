package io.driftrec.example;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Feeds driftrec behaviour events and reads its recommendation lists with the official Kafka
 * client (docs/contracts.md is the contract).
 *
 * <p>Events are keyed by user_id (the default partitioner, murmur2, is the one driftrec uses).
 * Lists are at least once: repeats are dropped by (user_id, event_id); a null value (tombstone)
 * means the user was forgotten. Settings come from the same environment variables as driftrec's:
 * DRIFTREC_BOOTSTRAP_SERVERS, DRIFTREC_EVENTS_TOPIC, DRIFTREC_RECOMMENDATIONS_TOPIC.
 *
 * <p>Usage: {@code java -cp ... io.driftrec.example.DriftrecExample ITEM_ID [ITEM_ID...]}
 * (optional: -Dusers=3 -Devents=3 -Dtimeout=60). Exits 0 when every user got a list.
 */
public final class DriftrecExample {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DriftrecExample() {}

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: DriftrecExample ITEM_ID [ITEM_ID...]");
      System.exit(2);
    }
    String bootstrap = env("DRIFTREC_BOOTSTRAP_SERVERS", "127.0.0.1:9092");
    String eventsTopic = env("DRIFTREC_EVENTS_TOPIC", "behaviour-events");
    String listsTopic = env("DRIFTREC_RECOMMENDATIONS_TOPIC", "recommendations");
    int users = Integer.getInteger("users", 3);
    int perUser = Integer.getInteger("events", 3);
    long timeoutMs = Integer.getInteger("timeout", 60) * 1000L;

    String run = UUID.randomUUID().toString().substring(0, 6);
    List<String> userIds = new ArrayList<>();
    for (int u = 0; u < users; u++) {
      userIds.add("java-" + run + "-" + u);
    }
    produce(bootstrap, eventsTopic, userIds, args, perUser);
    System.out.println("produced " + users * perUser + " events for " + users + " users");
    Set<String> waiting = new LinkedHashSet<>(userIds);
    readLists(bootstrap, listsTopic, waiting, timeoutMs);
    System.out.println("users with a list: " + (users - waiting.size()) + "/" + users);
    System.exit(waiting.isEmpty() ? 0 : 1);
  }

  private static void produce(
      String bootstrap, String topic, List<String> users, String[] items, int perUser)
      throws Exception {
    Properties props = new Properties();
    props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
      double now = System.currentTimeMillis() / 1000.0;
      for (int n = 0; n < perUser; n++) {
        for (int u = 0; u < users.size(); u++) {
          String user = users.get(u);
          ObjectNode event = JSON.createObjectNode();
          event.put("event_id", user + "-" + n);
          event.put("user_id", user);
          event.put("ts", now + n);
          event.put("action", "view");
          event.put("item_id", items[(u + n) % items.length]);
          producer.send(new ProducerRecord<>(topic, user, JSON.writeValueAsString(event))).get();
        }
      }
    }
  }

  /** Reads every partition from the beginning until each waiting user has a list. */
  private static void readLists(String bootstrap, String topic, Set<String> waiting, long timeoutMs)
      throws Exception {
    Properties props = new Properties();
    props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    Map<String, JsonNode> latest = new HashMap<>();
    Set<String> seen = new HashSet<>();
    int repeats = 0;
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
        partitions.add(new TopicPartition(topic, p.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (!waiting.isEmpty() && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          String user = record.key();
          if (record.value() == null) { // tombstone: the user was forgotten
            latest.remove(user);
            System.out.println("forgotten " + user);
            continue;
          }
          JsonNode list = JSON.readTree(new String(record.value(), StandardCharsets.UTF_8));
          if (!seen.add(user + "\u0000" + list.path("event_id").asText())) {
            repeats++;
            continue;
          }
          latest.put(user, list);
          if (waiting.remove(user)) {
            StringBuilder top = new StringBuilder();
            for (JsonNode item : list.path("items")) {
              if (top.length() > 0) {
                top.append(' ');
              }
              top.append(item.path("item_id").asText());
            }
            System.out.println("list " + user + " " + list.path("trigger").asText() + " " + top);
          }
        }
      }
    }
    System.out.println("repeats dropped: " + repeats);
  }
}
