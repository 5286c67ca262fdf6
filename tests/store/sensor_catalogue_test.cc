// store/sensor_catalogue.h: the catalogue covers the wire schema exactly, and what reads it
// (device-state update) keeps what it says.

#include "store/sensor_catalogue.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include <google/protobuf/descriptor.h>

namespace yiwang::store {
namespace {

namespace v1 = yiwang::v1;

// Every payload of SensorEvent is a kind, and every field of a payload is a metric of it with
// the field's JSON name: a reading added to sensor.proto without a catalogue entry (or the
// reverse) fails here.
TEST(SensorCatalogueTest, CoversEveryPayloadAndEveryReadingOfTheWireSchema) {
  const auto* event = v1::SensorEvent::descriptor();
  const auto* oneof = event->FindOneofByName("payload");
  ASSERT_NE(oneof, nullptr);
  ASSERT_EQ(static_cast<size_t>(oneof->field_count()), SensorKinds().size());
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* payload = oneof->field(i);
    const SensorKindInfo& kind = SensorKinds()[static_cast<size_t>(i)];
    EXPECT_EQ(kind.json_name, payload->json_name());
    EXPECT_EQ(static_cast<int>(kind.payload), payload->number());
    std::set<std::string> fields, metrics;
    for (int f = 0; f < payload->message_type()->field_count(); ++f)
      fields.insert(payload->message_type()->field(f)->json_name());
    for (const SensorMetric& m : kind.metrics) {
      EXPECT_TRUE(metrics.insert(std::string(m.name)).second) << "duplicate " << m.name;
      EXPECT_EQ(m.kind, kind.kind) << m.name;
      EXPECT_LT(m.min, m.max) << m.name;
      EXPECT_EQ(m.boolean, m.unit.empty()) << m.name;
      EXPECT_EQ(m.boolean, m.symbol.empty()) << m.name;
    }
    EXPECT_EQ(fields, metrics) << kind.json_name;
  }
}

TEST(SensorCatalogueTest, ReadsEachReadingOfItsKindOnly) {
  v1::SensorEvent e;
  e.mutable_manhole_cover()->set_tilt_deg(12.5);
  e.mutable_manhole_cover()->set_lid_open(true);
  ASSERT_EQ(SensorKindOf(e), v1::SENSOR_KIND_MANHOLE_COVER);
  EXPECT_EQ(FindSensorMetric("tiltDeg", v1::SENSOR_KIND_MANHOLE_COVER)->read(e), 12.5);
  EXPECT_EQ(FindSensorMetric("lidOpen", v1::SENSOR_KIND_MANHOLE_COVER)->read(e), 1.0);
  EXPECT_FALSE(FindSensorMetric("displaced", v1::SENSOR_KIND_MANHOLE_COVER)->read(e));
  EXPECT_FALSE(FindSensorMetric("tiltDeg", v1::SENSOR_KIND_ANCIENT_TREE)->read(e));
  EXPECT_EQ(FindSensorMetric("ch4PercentLel", v1::SENSOR_KIND_MANHOLE_COVER), nullptr);
  EXPECT_EQ(SensorKindJsonName(v1::SENSOR_KIND_UNSPECIFIED), "none");
  EXPECT_EQ(KindOf(v1::SensorEvent()), nullptr);
}

TEST(SensorCatalogueTest, KeepLatestCopiesThePayloadIntoTheDeviceState) {
  for (const SensorKindInfo& kind : SensorKinds()) {
    v1::SensorEvent e;
    // Set the payload of this kind through reflection, with its first reading.
    const auto* field = v1::SensorEvent::descriptor()->FindFieldByNumber(kind.payload);
    auto* payload = e.GetReflection()->MutableMessage(&e, field);
    const auto* first = payload->GetDescriptor()->field(0);
    if (first->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_BOOL)
      payload->GetReflection()->SetBool(payload, first, true);
    else
      payload->GetReflection()->SetDouble(payload, first, 1.5);
    v1::DeviceState st;
    kind.keep_latest(e, &st);
    const auto* kept = v1::DeviceState::descriptor()->FindFieldByName(field->name());
    ASSERT_NE(kept, nullptr) << field->name();
    EXPECT_EQ(st.GetReflection()->GetMessage(st, kept).SerializeAsString(),
              payload->SerializeAsString())
        << kind.json_name;
  }
}

}  // namespace
}  // namespace yiwang::store
